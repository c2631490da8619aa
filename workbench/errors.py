"""The errors a user should see, as one family with messages a person can act on."""


class WorkbenchError(Exception):
    """Something the user can fix or should know about; the message says what."""


class ModelFileError(WorkbenchError):
    """The model file is missing, is not a GGUF, or is damaged."""


class ModelLoadError(WorkbenchError):
    """llama.cpp could not load a valid file (out of memory, unsupported architecture)."""


class ContextOverflowError(WorkbenchError):
    """The prompt does not fit in the model's context window."""


class GenerationError(WorkbenchError):
    """llama.cpp failed while generating."""


class NoModelLoadedError(WorkbenchError):
    """A request reached the engine before any model was loaded."""


class ImportFormatError(WorkbenchError):
    """An import file is malformed; nothing was written. The message names the place."""
