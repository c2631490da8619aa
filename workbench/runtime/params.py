"""What a run is asked for and what it reports: sampling, loading options, run stats;
and the one schema sampling values are checked (or repaired) against.

Plain data with no llama.cpp in sight, so exports, the notebook and the CLI's
parser can use them without loading the engine.
"""

import math
from dataclasses import asdict, dataclass, field, fields

from workbench.errors import WorkbenchError
from workbench.runtime.models import ModelInfo

# A model's trained context can be 128k tokens; its KV cache would not fit in
# most machines' memory, so the default is capped. Users can ask for more.
DEFAULT_CTX_CAP = 8192


@dataclass
class LoadOptions:
    n_ctx: int | None = None  # None: the model's own length, capped at DEFAULT_CTX_CAP
    n_threads: int | None = None
    n_gpu_layers: str | int = "auto"  # "auto", "all", "none" or a number of layers


@dataclass
class SamplingParams:
    temperature: float = 0.7
    top_p: float = 0.95
    top_k: int = 40
    min_p: float = 0.05
    repeat_penalty: float = 1.1
    max_tokens: int = 512
    seed: int | None = None
    stop: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, saved: dict) -> "SamplingParams":
        """Defaults, overridden by the saved values this version knows (others are ignored);
        a value outside the schema is repaired (see repair_params), never passed on."""
        return cls(**repair_params(saved)[0])


@dataclass
class RunStats:
    prompt_tokens: int = 0
    reused_tokens: int = 0  # taken from the KV cache of the previous call
    processed_tokens: int = 0  # prompt tokens actually evaluated this time
    completion_tokens: int = 0
    time_to_first_token_s: float = 0.0
    decode_tokens_per_s: float = 0.0
    total_s: float = 0.0
    finish_reason: str = ""  # "stop", "length" or "cancelled"

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class LoadResult:
    info: ModelInfo
    n_ctx: int
    n_gpu_layers: int  # as passed to llama.cpp: -1 all, 0 none
    gpu_offload_supported: bool
    notice: str = ""  # something the user should see, e.g. a fallback to CPU


# -- the schema: every sampling value that enters (a file, the database, the CLI, the window)
# is checked against these rules, so a run never gets a value llama.cpp or a spin box cannot take.

# llama.cpp takes a 32-bit seed and reads 2**32 - 1 as "random"; larger numbers would
# silently wrap around to small ones.
MAX_SEED = 2**32 - 2
MAX_TOP_K = 2**31 - 1  # a C int in llama.cpp
MAX_TOKENS = 1_000_000
# No tool means more than about 2 for either, but files carry odd values: the bounds are
# generous so that no real file is refused, and finite so that the window's spin boxes hold them.
MAX_TEMPERATURE = 100.0
MAX_REPEAT_PENALTY = 100.0


@dataclass(frozen=True)
class NumberRule:
    """A sampling number's kind and range: lo..hi, lo itself excluded when lo_open."""

    whole: bool
    lo: float
    hi: float
    says: str  # the range as a person reads it, after "NAME is ..."
    lo_open: bool = False

    def holds(self, v) -> bool:
        """Whether the number v is in range."""
        return (v > self.lo if self.lo_open else v >= self.lo) and v <= self.hi


NUMBER_RULES = {
    "temperature": NumberRule(False, 0, MAX_TEMPERATURE, "a number, 0 or more and at most 100 "
                              "(0: always the likeliest token)"),
    "top_p": NumberRule(False, 0, 1, "a number above 0 and at most 1", lo_open=True),
    "top_k": NumberRule(True, 0, MAX_TOP_K, "a whole number from 0 to 2,147,483,647 (0: no limit)"),
    "min_p": NumberRule(False, 0, 1, "a number from 0 to 1"),
    "repeat_penalty": NumberRule(False, 0, MAX_REPEAT_PENALTY, "a number above 0 and at most 100 "
                                 "(1: no penalty)", lo_open=True),
    "max_tokens": NumberRule(True, 1, MAX_TOKENS, "a whole number from 1 to 1,000,000"),
    "seed": NumberRule(True, 0, MAX_SEED, f"a whole number from 0 to {MAX_SEED:,}, or null for "
                       "a new random seed each run"),
}
STOP_RULE = ('a list of non-empty strings, e.g. \'["\\nUser:"]\' ([] for none), '
             "or one string")
PARAM_NAMES = tuple(f.name for f in fields(SamplingParams))
DEFAULTS = SamplingParams().to_dict()


def describe(name: str) -> str:
    """What parameter NAME may be, as a person reads it."""
    return STOP_RULE if name == "stop" else NUMBER_RULES[name].says


def shown(value, limit: int = 40) -> str:
    """A value as a message quotes it: short, and never an error of its own (a 5,000-digit
    int cannot be repr'd, a nested list's repr has no end worth reading)."""
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 128:
        return f"a number of about {value.bit_length() * 3 // 10:,} digits"
    if isinstance(value, (list, dict)) and (len(value) > 8 or not _flat(value)):
        kind = "list" if isinstance(value, list) else "mapping"
        return f"a {kind} of {len(value)} item{'' if len(value) == 1 else 's'}"
    if isinstance(value, str) and len(value) > limit:
        return repr(value[:limit]) + "…"
    return _cut(repr(value), limit)


def _flat(value) -> bool:
    """Only short plain values inside: safe and useful to show as they are."""
    items = value.values() if isinstance(value, dict) else value
    return all(isinstance(v, (float, bool, type(None))) or (isinstance(v, int) and v.bit_length() <= 128)
               or (isinstance(v, str) and len(v) <= 40) for v in items)


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit] + "…"


def _number(value, whole: bool):
    """A finite number of the field's kind (int for whole, float otherwise), or None:
    bools, text, NaN, infinities and fractions for whole fields are not numbers here."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    if isinstance(value, float):
        if not math.isfinite(value) or (whole and not value.is_integer()):
            return None
        return int(value) if whole else value
    if whole:
        return value
    try:
        return float(value)
    except OverflowError:  # an int beyond any float
        return None


def check_param(name: str, value, *, error: type[WorkbenchError] = WorkbenchError,
                label: str | None = None, verb: str = "must be", quoted: str | None = None):
    """VALUE as the schema keeps it (float for a real field, int for a whole one, a list of
    strings for stop, None for a random seed); `error` naming the field (as `label`, e.g.
    "Line 3: PARAMETER num_predict") and its allowed range when it does not fit."""
    label = label or name
    if name not in DEFAULTS:
        raise error(f"{label}: there is no sampling parameter {shown(name)}. "
                    f"The parameters are: {', '.join(PARAM_NAMES)}.")
    bad = error(f"{label} {verb} {describe(name)}; not {quoted or shown(value)}.")
    if name == "stop":
        if isinstance(value, list) and all(isinstance(s, str) and s for s in value):
            return list(value)
        raise bad
    if name == "seed" and value is None:
        return None
    rule = NUMBER_RULES[name]
    number = _number(value, rule.whole)
    if number is None or not rule.holds(number):
        raise bad
    return number


def check_params(values: dict, *, error: type[WorkbenchError] = WorkbenchError,
                 where: str = "") -> dict:
    """Every value in VALUES checked (check_param); unknown names are refused too."""
    if not isinstance(values, dict):
        raise error(f"{where}params must be a mapping of sampling parameters to values.")
    return {k: check_param(k, v, error=error, label=f"{where}{k}") for k, v in values.items()}


def fit_seed(seed: int) -> int | None:
    """A tool's whole-number seed made to fit llama.cpp's: negative ones mean "random"
    (llama.cpp's and Ollama's -1), larger ones are folded into range, so that the same
    file still gives the same seed."""
    if seed < 0:
        return None
    return seed if seed <= MAX_SEED else seed % (MAX_SEED + 1)


def sample_seed(seed: int | None, i: int) -> int | None:
    """The seed of sample i of a set (seed, seed+1, ...): distinct, reproducible, in range."""
    return None if seed is None else fit_seed(seed + i)


def repair_params(saved) -> tuple[dict, list[str]]:
    """The saved values that fit the schema, the others repaired to the nearest valid value
    (or left out, so the default applies), and a note a person can read for each change.
    Never raises: it is how a stored document from an older version stays usable."""
    if not isinstance(saved, dict):
        return {}, [f"The sampling settings were {shown(saved)}, not named values; "
                    "the defaults apply."]
    out, notes = {}, []
    for name, value in saved.items():
        if name not in DEFAULTS:
            notes.append(f"The unknown sampling setting {shown(name)} was dropped.")
            continue
        try:
            out[name] = check_param(name, value)
            continue
        except WorkbenchError:
            pass
        fixed = _repaired(name, value)
        if fixed is _DEFAULT:
            notes.append(f"Sampling setting {name} was {shown(value)}, but it must be "
                         f"{describe(name)}; the default ({_as_written(DEFAULTS[name])}) applies.")
        else:
            out[name] = fixed
            notes.append(f"Sampling setting {name} was {shown(value)}, but it must be "
                         f"{describe(name)}; it is now {_as_written(fixed)}.")
    return out, notes


_DEFAULT = object()


def _as_written(value) -> str:
    return "null" if value is None else repr(value) if not isinstance(value, str) else value


def _repaired(name: str, value):
    """The nearest valid value to a bad one, or _DEFAULT when there is none."""
    if name == "stop":
        items = [value] if isinstance(value, str) else value if isinstance(value, list) else []
        return [s for s in items if isinstance(s, str) and s]
    rule = NUMBER_RULES[name]
    if isinstance(value, str):  # text such as "0.7", from a hand edit or an older version
        try:
            value = float(value.strip())
        except ValueError:
            return _DEFAULT
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:
        return _DEFAULT  # lists, mappings, null where null means nothing, NaN
    if name == "seed":
        if isinstance(value, float) and not math.isfinite(value):
            return _DEFAULT
        return fit_seed(round(value))
    if value > rule.hi:
        value = rule.hi
    elif value < rule.lo or (rule.lo_open and value <= rule.lo):
        if rule.lo_open:  # nothing is nearest to an excluded bound
            return _DEFAULT
        value = rule.lo
    return int(round(value)) if rule.whole else float(value)
