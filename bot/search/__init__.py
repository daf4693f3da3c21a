"""Paper lookup: the in-memory engine (index.py, plan.py, scoring.py, rank.py) with its database-backed service
(service.py), and the query language people type (query.py, arguments.py).

The engine's API other rooms use: `SearchIndex`, `SearchDoc`, `SearchHit`, `TeamSignal` and, for a running bot,
`SearchService`. See docs/search.md for how it works and what it costs.
"""

from bot.search.index import SearchDoc, SearchHit, SearchIndex
from bot.search.rank import TeamSignal
from bot.search.service import SearchService

__all__ = ["SearchDoc", "SearchHit", "SearchIndex", "SearchService", "TeamSignal"]
