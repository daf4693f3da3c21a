"""Paper lookup: the search engine and the query language."""
