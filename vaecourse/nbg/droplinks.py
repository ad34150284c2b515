"""DropLinks: after the kernel has run, nothing but plain files is left in the notebook's folder.

The sandboxed kernel may write its own working folder, which is the folder nbgrader then
writes the autograded notebook into, with the grader's rights. A symbolic link left there
under the notebook's name (`01_mnist.ipynb -> /course/gradebook.db`) would make nbgrader
overwrite whatever it points to; a hard link, a FIFO or a device file are as bad. Right
after Execute (the kernel and its sandbox are gone by then) every entry of the folder,
recursively, that is not a plain single-linked file or a real folder is removed.
"""
import os
import stat

from nbgrader.preprocessors import NbGraderPreprocessor


def drop_links(folder: str) -> list[str]:
    """Remove every symlink, hard-linked file and special file under `folder`; the paths removed."""
    removed = []
    for root, dirs, files in os.walk(folder, followlinks=False):
        for name in dirs + files:
            path = os.path.join(root, name)
            info = os.lstat(path)
            plain = stat.S_ISDIR(info.st_mode) or (stat.S_ISREG(info.st_mode) and info.st_nlink == 1)
            if not plain:
                os.unlink(path)
                removed.append(path)
        dirs[:] = [d for d in dirs if os.path.isdir(os.path.join(root, d)) and not os.path.islink(os.path.join(root, d))]
    return removed


class DropLinks(NbGraderPreprocessor):
    """Remove links and special files the kernel left in the notebook's folder (see module doc)."""

    def preprocess(self, nb, resources):
        folder = resources.get("metadata", {}).get("path")
        if folder:
            for path in drop_links(folder):
                self.log.warning("removed %s, left by the student's kernel (not a plain file)", path)
        return nb, resources
