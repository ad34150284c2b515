# Installed by binder/postBuild: a Binder session with no ?urlpath opens JupyterLab on the
# first notebook. A Binder link with its own urlpath overrides it (command line > config file).
FIRST_NOTEBOOK = "/lab/tree/course/01_mnist.ipynb"
c = get_config()  # noqa: F821 (provided by Jupyter)
c.ServerApp.default_url = FIRST_NOTEBOOK
c.LabApp.default_url = FIRST_NOTEBOOK
c.JupyterNotebookApp.default_url = FIRST_NOTEBOOK  # repo2docker starts `jupyter notebook`
