"""Turn text a person typed into a safe SQLite FTS5 query.

Quotes, parentheses, `AND (`, `*` and `-` mean things to FTS5 and would raise a
syntax error; every word is quoted (as sqlite-utils' quote_fts does), so they are
searched for literally.
"""

import re

# Letters and digits in any script; everything else separates words.
_WORD = re.compile(r"\w+", re.UNICODE)
# Words that match nearly every lesson: in an any-word (OR) query they make
# bm25 score the whole notebook and add nothing to relevance.
STOPWORDS = frozenset("""a about an and are as at be but by can could do does for from had has
have he her his how i if in into is it its me my no not of on or our she should so than that
the their them then there these they this to us was we were what when where which who why
will with would you your""".split())
MAX_ANY_TERMS = 12


def words(text: str) -> list[str]:
    return _WORD.findall(text)


def fts_query(text: str, *, any_word: bool = False, prefix_last: bool = True) -> str:
    """A query matching all words (or any, for relevance retrieval); the last word
    also matches as a prefix, so search-as-you-type finds 'number' from 'numb'."""
    found = words(text)
    if any_word:
        found = list(dict.fromkeys(w for w in found if w.lower() not in STOPWORDS))[:MAX_ANY_TERMS]
    terms = [f'"{w}"' for w in found]
    if not terms:
        return ""
    if prefix_last and not any_word:
        terms[-1] += "*"
    return (" OR " if any_word else " ").join(terms)
