"""The model panel: GGUF files found, their metadata, load options, and loading progress."""

import html
from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from workbench.errors import ModelFileError
from workbench.runtime.engines import display_name
from workbench.runtime.generation import MODE_CHOICES
from workbench.runtime.host import default_threads
from workbench.runtime.models import ModelInfo, human_size, list_models, read_model_info
from workbench.runtime.params import LoadOptions
from workbench.runtime.remote import is_remote
from workbench.runtime.servers import saved_servers
from workbench.ui.layout import compact_body
from workbench.ui.palette import c


def error_html(message) -> str:
    """A message (which may quote text from a file) as red rich text, escaped."""
    return f"<span style='color:{c('error')}'>{html.escape(str(message))}</span>"


def describe(info: ModelInfo) -> str:
    kind = ("chat — chat template found" if info.kind == "chat"
            else "base — no chat template (use URIAL or raw completion)")
    e = html.escape  # names come from the file: never markup
    return (f"<b>{e(info.name)}</b><br>{e(info.architecture)} {e(info.size_label)} · "
            f"{e(info.quantization)} · "
            f"{human_size(info.file_size)}<br>trained context {info.context_length:,} tokens · "
            f"{info.n_layers} layers<br>{kind}")


class ModelPanel(QWidget):
    """Signals:
        loadRequested(str, object): load this path with these LoadOptions.
    """

    loadRequested = Signal(str, object)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("modelPanel")
        self.models = QComboBox()
        self.models.setObjectName("modelCombo")
        self.models.currentIndexChanged.connect(self._show_info)
        open_button = QPushButton("Open file…")
        open_button.clicked.connect(self.open_file)
        server_button = QPushButton("Add server…")
        server_button.setObjectName("addServerButton")
        server_button.setToolTip("A model on llama-server, vLLM, Ollama, LM Studio or any "
                                 "OpenAI-compatible server")
        server_button.clicked.connect(self.add_server)
        self.info = QLabel()
        self.info.setWordWrap(True)
        self.gpu = QLabel()
        self.ctx = QSpinBox()
        self.ctx.setRange(0, 1_048_576)
        self.ctx.setSingleStep(1024)
        self.ctx.setSpecialValueText("model's own (max 8,192)")
        self.gpu_layers = QComboBox()
        self.gpu_layers.setEditable(True)
        self.gpu_layers.addItems(["auto", "all", "none"])
        self.gpu_layers.setToolTip("auto, all, none or a number of layers")
        self.threads = QSpinBox()
        self.threads.setRange(1, 256)
        self.threads.setValue(default_threads())
        self.mode = QComboBox()
        self.mode.setObjectName("modeCombo")
        self.mode.addItems(list(MODE_CHOICES))
        self.mode.setToolTip("auto: the GGUF's chat template when it has one, else URIAL "
                             "prompting (base models); raw: continue your text as written")
        self.mode_reason = QLabel()
        self.mode_reason.setObjectName("modeReason")
        self.mode_reason.setWordWrap(True)
        self.load_button = QPushButton("Load")
        self.load_button.setObjectName("loadButton")
        self.load_button.clicked.connect(self.request_load)
        self.progress = QProgressBar()
        self.progress.setObjectName("modelLoadProgress")
        self.progress.setRange(0, 0)  # busy until llama.cpp reports how far it got
        self.progress.setFormat("Loading %p%")
        self.progress.hide()
        self.state = QLabel()
        self.state.setObjectName("modelState")
        self.state.setWordWrap(True)

        row = QHBoxLayout()
        row.addWidget(self.models, 1)
        row.addWidget(open_button)
        row.addWidget(server_button)
        form = QFormLayout()
        form.addRow("Context", self.ctx)
        form.addRow("GPU layers", self.gpu_layers)
        form.addRow("Threads", self.threads)
        form.addRow("Prompting", self.mode)
        body = compact_body(self, 680)
        layout = QVBoxLayout(body)
        layout.addLayout(row)
        layout.addWidget(self.info)
        layout.addWidget(self.gpu)
        layout.addLayout(form)
        layout.addWidget(self.load_button)
        layout.addWidget(self.progress)
        layout.addWidget(self.state)
        layout.addWidget(self.mode_reason)
        layout.addStretch()
        # The folder is scanned by the window once it is on screen (reading GGUF headers takes
        # a good part of a second): scan().

    def scan(self, select: str | None = None) -> None:
        listing = list_models()
        self.models.blockSignals(True)
        self.models.clear()
        for info in listing.infos:
            self.models.addItem(f"{Path(info.path).name} ({info.kind})", info.path)
        for server in saved_servers():
            for model in server.models:
                spec = f"{server.url}#{model}"
                self.models.addItem(f"{display_name(spec)} (server)", spec)
        self.models.blockSignals(False)
        if select:
            self.select(select)
        self._show_info()

    def select(self, path: str) -> None:
        i = self.models.findData(path)
        if i < 0 and is_remote(path):
            self.models.addItem(f"{display_name(path)} (server)", path)
            i = self.models.count() - 1
        elif i < 0:
            try:
                info = read_model_info(path)
            except ModelFileError as e:
                self.state.setText(error_html(e))
                return
            self.models.addItem(f"{Path(path).name} ({info.kind})", path)
            i = self.models.count() - 1
        self.models.setCurrentIndex(i)

    def open_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open a GGUF model", "", "GGUF models (*.gguf)")
        if path:
            self.select(path)
            self.request_load()

    def _show_info(self) -> None:
        path = self.models.currentData()
        if not path:
            self.info.setText("No models found. Put .gguf files in models/ or use Open file….")
            return
        if is_remote(path):
            self.info.setText(f"<b>{html.escape(display_name(path))}</b><br>a model on a server")
            return
        try:
            self.info.setText(describe(read_model_info(path)))
        except ModelFileError as e:
            self.info.setText(error_html(e))

    def options(self) -> LoadOptions:
        layers = self.gpu_layers.currentText().strip() or "auto"
        return LoadOptions(n_ctx=self.ctx.value() or None, n_threads=self.threads.value(),
                           n_gpu_layers=layers)

    def request_load(self) -> None:
        path = self.models.currentData()
        if path:
            self.set_loading(True)
            self.loadRequested.emit(path, self.options())

    def set_progress(self, fraction: float) -> None:
        """How far loading got (0..1), as llama.cpp reports it."""
        self.progress.setRange(0, 100)
        self.progress.setValue(int(max(0.0, min(1.0, fraction)) * 100))
        self.state.setText(f"Loading… {self.progress.value()}%")

    def set_loading(self, loading: bool) -> None:
        if loading:
            self.progress.setRange(0, 0)
        self.progress.setVisible(loading)
        self.load_button.setEnabled(not loading)
        if loading:
            self.state.setText("Loading…")

    def add_server(self) -> None:
        """Ask for a server, then load the model chosen there."""
        from workbench.ui.server_dialog import ServerDialog  # only when asked for
        dialog = ServerDialog(self)
        if dialog.exec():
            self.scan(select=dialog.spec())
            self.request_load()

    def set_loaded(self, result) -> None:
        self.set_loading(False)
        if getattr(result.info, "server", None):
            self.state.setText(f"Connected to {html.escape(result.info.server)}."
                               + (f"<br>{html.escape(result.notice)}" if result.notice else ""))
            return
        layers = {-1: "all layers", 0: "none"}.get(result.n_gpu_layers, f"{result.n_gpu_layers} layers")
        gpu = ("GPU offload available" if result.gpu_offload_supported
               else "GPU offload not available in this llama.cpp build")
        self.state.setText(f"Loaded with a {result.n_ctx:,}-token context. {gpu}; on GPU: {layers}."
                           + (f"<br><span style='color:{c('warning')}'>{html.escape(result.notice)}</span>"
                              if result.notice else ""))

    def set_failed(self, message: str) -> None:
        self.set_loading(False)
        self.state.setText(error_html(message))
