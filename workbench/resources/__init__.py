"""Package data: the URIAL preamble and examples, the reflection prompt, bundled task sets."""

from importlib.resources import files
from pathlib import Path


def resource_path(*parts: str) -> Path:
    """A bundled file's path; works from a checkout, an editable install and a wheel."""
    return Path(str(files(__name__).joinpath(*parts)))
