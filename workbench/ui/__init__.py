"""The PySide6 window: widgets and wiring only; no SQL, no llama_cpp."""
