"""Near-duplicate lessons: how alike two read (similarity), and the index a bulk import checks
each new lesson against (DuplicateIndex)."""

import difflib
from collections import Counter, defaultdict

from workbench.fts import STOPWORDS, words

# Two lessons this alike are offered as a merge rather than added twice.
DUPLICATE_THRESHOLD = 0.8


def similarity(a: str, b: str) -> float:
    """How alike two lessons read: the better of word overlap and character match."""
    wa, wb = {w.lower() for w in words(a)}, {w.lower() for w in words(b)}
    jaccard = len(wa & wb) / len(wa | wb) if wa | wb else 1.0
    ratio = difflib.SequenceMatcher(None, a.lower(), b.lower()).ratio()
    return max(jaccard, ratio)


def _word_set(text: str) -> frozenset[str]:
    return frozenset(w.lower() for w in words(text))


class DuplicateIndex:
    """Near-duplicate checks for a bulk import, each costing about the same however many
    lessons there are: a set of word sets for repeats, and an in-memory word index
    whose rarest words find the few lessons worth comparing (as FTS finds them for add).

    A lesson Jaccard-alike by DUPLICATE_THRESHOLD shares most of this one's words, so it
    is found through any of the rarest. The character comparison (similarity's other half,
    for respellings) costs a hundred times more, so it runs on at most RATIO_CHECKS of the
    candidates sharing the most words, only those sharing at least half of them, and only
    after a cheap screen of their letter pairs.
    """

    POSTINGS_BUDGET = 500  # index entries read per check, rarest words first
    CANDIDATES = 20  # those sharing the most words get the word comparison
    RATIO_CHECKS = 2
    # Texts whose characters match by DUPLICATE_THRESHOLD in a few long runs (respellings)
    # share most letter pairs; two different lessons in the same wording share far fewer,
    # and this screen is twenty times cheaper than the ratio it spares.
    PAIRS_FLOOR = 0.7

    def __init__(self):
        self.exact: set[frozenset[str]] = set()  # word sets: identical ones are duplicates
        self.texts: list[str] = []
        self.word_sets: list[frozenset[str]] = []
        self.postings: dict[str, list[int]] = defaultdict(list)

    def add(self, text: str) -> None:
        """Index a lesson as one later ones may duplicate."""
        key, ws = len(self.texts), _word_set(text)
        self.texts.append(text.lower())
        self.word_sets.append(ws)
        self.exact.add(ws)
        for w in ws - STOPWORDS:
            self.postings[w].append(key)

    def find(self, text: str) -> bool:
        """Whether text nearly duplicates an indexed lesson (see similarity)."""
        ws = _word_set(text)
        telling = ws - STOPWORDS
        if not ws:
            return False  # FTS finds nothing for a text without words either
        if ws in self.exact:
            return True
        counts: Counter = Counter()
        read = looked_up = 0
        for w in sorted(telling, key=lambda w: len(self.postings.get(w, ()))):
            found = self.postings.get(w, ())
            if read and read + len(found) > self.POSTINGS_BUDGET:
                break
            counts.update(found)
            read += len(found)
            looked_up += 1
        # A lesson that passes either test below lacks at most this many of our words, so
        # it is among those found through all but that many of the words looked up.
        slack = max(int((1 - DUPLICATE_THRESHOLD) * len(ws)), len(telling) // 2)
        least = max(1, looked_up - slack)
        close = sorted(((n, key) for key, n in counts.items() if n >= least), reverse=True)
        ratio_checks, low, pairs = self.RATIO_CHECKS, text.lower(), None
        for _, key in close[:self.CANDIDATES]:
            other = self.word_sets[key]
            shared = len(ws & other)
            if shared / (len(ws) + len(other) - shared) >= DUPLICATE_THRESHOLD:
                return True
            if ratio_checks and len(telling & other) * 2 >= len(telling):
                ratio_checks -= 1
                pairs = pairs or _letter_pairs(low)
                if _pairs_alike(pairs, _letter_pairs(self.texts[key])) < self.PAIRS_FLOOR:
                    continue
                m = difflib.SequenceMatcher(None, low, self.texts[key])
                if (m.real_quick_ratio() >= DUPLICATE_THRESHOLD
                        and m.ratio() >= DUPLICATE_THRESHOLD):
                    return True
        return False


def _letter_pairs(text: str) -> set[str]:
    return set(map(str.__add__, text, text[1:]))


def _pairs_alike(a: set[str], b: set[str]) -> float:
    """Dice overlap of two texts' letter pairs: a quick screen for the character ratio."""
    return 2 * len(a & b) / (len(a) + len(b)) if a or b else 1.0
