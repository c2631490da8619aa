"""Mixed columns: a compare with one local and one remote column through the engine worker, and
an evaluation whose columns are the local model and the same model on a server."""

from tests.conftest import GREEDY
from tests.servers import llama_cpp_server
from workbench.evals import runner
from workbench.evals.checks import make_check
from workbench.evals.results import EvalStore
from workbench.evals.tasks import Task
from workbench.runtime.engines import EngineSlot, open_engine
from workbench.runtime.remote import RemoteEngine
from workbench.ui.worker import EngineWorker, GenerationRequest

ASK = [{"role": "user", "content": "What is the capital of France?"}]


def test_compare_a_local_and_a_remote_column_and_an_evaluation(qtbot, ws, chat_engine, chat_model_path):
    with llama_cpp_server(chat_model_path) as (url, _proc):
        worker = EngineWorker(chat_engine)
        texts, done, failed = {0: "", 1: ""}, {}, []
        worker.token.connect(lambda i, t: texts.__setitem__(i, texts[i] + t))
        worker.finished.connect(lambda i, s: done.__setitem__(i, s))
        worker.failed.connect(lambda i, m: failed.append((i, m)))
        worker.generate(GenerationRequest([ASK, ASK], GREEDY, "chat", models=[None, (url, "chat")]))
        assert failed == [] and set(done) == {0, 1}
        assert texts[0].strip() and texts[1].strip()
        assert isinstance(worker.others[url], RemoteEngine)
        assert done[1].completion_tokens > 0 and done[1].finish_reason in ("stop", "length")

        # An evaluation: the same case in a local and a remote column.
        remote = worker.others[url]
        case = Task("What is the capital of France?", [make_check("contains", "Paris")])
        variants = runner.variants_for(ws, ws.prompts.active_id(), "draft")
        plan = runner.plan(ws, variants, [chat_model_path, remote.info], [case], mode="chat",
                           overrides={"temperature": 0, "max_tokens": 40, "repeat_penalty": 1.0})
        engines = {str(chat_model_path): chat_engine, remote.info.path: remote}
        result = runner.execute(plan, engines.__getitem__)
        assert [c.model_path for c in plan.columns] == [str(chat_model_path), f"{url}#{remote._model}"]
        for j in (0, 1):
            (attempt,) = result.cells[j][0].attempts
            assert attempt.error == "" and attempt.output.strip()
        assert "What is the capital of France?" in result.cells[1][0].prompt
        stored = EvalStore(ws.db).load(EvalStore(ws.db).save(result))
        assert stored.plan.columns[1].model_path == remote.info.path


def test_the_windows_engine_slot_switches_between_local_and_remote(qtbot, chat_model_path, chat_engine):
    from workbench.runtime.engine import Engine
    slot = EngineSlot(Engine())
    worker = EngineWorker(slot)
    loaded = []
    worker.loaded.connect(loaded.append)
    with llama_cpp_server(chat_model_path) as (url, _proc):
        worker.load(url, None)
        assert loaded and loaded[-1].info.server == url and isinstance(slot.current, RemoteEngine)
        slot.prompt_progress = None  # settings reach the engine in use
        assert slot.count_tokens("Hello world") == chat_engine.count_tokens("Hello world") and slot.info.kind == "chat"
        worker.load(str(chat_model_path), None)
        assert loaded[-1].info.path == str(chat_model_path) and slot.current is not None
        assert not isinstance(slot.current, RemoteEngine) and not slot._remote.loaded
        assert open_engine(url).loaded
