"""Solutions exported from the master notebooks by `make build`; do not edit."""
