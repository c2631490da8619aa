"""Export and import in the window: the export dialog, the import file dialog, dropped files.

The exporters and the import machinery load when first used, not with the window."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject
from PySide6.QtWidgets import QFileDialog

from workbench.errors import WorkbenchError

if TYPE_CHECKING:
    from workbench.ui.export_dialog import ExportDialog


class SharingController(QObject):
    """Args:
        window: the MainWindow (its session, banner and status bar).
    """

    def __init__(self, window):
        super().__init__(window)
        self.w, self.session = window, window.session
        self.dialog: ExportDialog | None = None

    def export_input(self):
        from workbench.share.builder import build_export_input, document_tasks
        s = self.session
        return build_export_input(s.ws, s.document, s.counting_engine, s.conversation_id,
                                  tasks=document_tasks(s.ws, s.document_id), mode=s.mode_choice)

    def show_export(self) -> ExportDialog:
        if self.dialog is None:
            from workbench.ui.export_dialog import ExportDialog
            self.dialog = ExportDialog(self.export_input, self.w)
        self.dialog.refresh()
        self.dialog.show()
        self.dialog.raise_()
        return self.dialog

    def follow_edits(self) -> None:
        """The export preview follows the prompt as it is edited."""
        if self.dialog is not None and self.dialog.isVisible():
            self.dialog.refresh()

    def import_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self.w, "Import a prompt", "",
                                              "Prompt files (*.json *.yaml *.yml *.md *Modelfile);;"
                                              "All files (*)")
        if path:
            self.import_file(path)

    def import_file(self, path: str) -> None:
        """A prompt file from another tool becomes a new document, opened in the window; what
        the import converted or left out is shown as a notice."""
        from workbench.share.intake import import_file_into
        library = self.w.library_dock.widget()
        if library.busy():  # the new prompt could not be opened while answers stream
            return
        try:
            result = import_file_into(self.session.ws, path)
        except WorkbenchError as e:
            self.w.show_error(str(e))
            return
        # Opened as choosing it in the library does: its newest conversation (or a new one).
        if not library.open_document(result.document_id):
            self.w.notify(f"Imported {Path(path).name} as “{result.document.name}”; it is in the "
                          "library to open.", "warning")
            return
        if result.added_lessons and hasattr(self.w, "notebook"):
            self.w.notebook.refresh()
        name = Path(path).name
        if result.warnings:
            self.w.notify(f"Imported {name} as “{result.document.name}”. "
                          + " ".join(result.warnings), "warning")
        self.w.statusBar().showMessage(f"Imported {name} as “{result.document.name}”.", 6000)

    def drop_target(self, event) -> str | None:
        """The first local file a drag carries, if any."""
        urls = event.mimeData().urls() if event.mimeData().hasUrls() else []
        return next((u.toLocalFile() for u in urls if u.isLocalFile()), None)
