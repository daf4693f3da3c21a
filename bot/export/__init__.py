"""`paperbot export` and `/papers export`: what the team has read, voted on and discussed, as JSON, CSV or BibTeX.

An export is the set of posts that match the options (a team, some channels, posted since a day), grouped by
paper: one record per paper that has at least one such post, papers ordered by their first post (its Slack
timestamp, then the arXiv id). A paper's `votes`, `reactions` and `replies` count the activity on exactly the
posts listed with it. `collect` reads them from the database a batch at a time, `render` turns them into text
(pure generators, so a file of any size is written in bounded memory), and `slack` is `/papers export`'s
parsing and upload. The public names are re-exported here: `export.parse_command(...)`.
"""

from bot.export.collect import BATCH, Counted, RefusedOutput, atomic_file, collect, since_ts, write_export
from bot.export.records import EXTENSIONS, FORMATS, ExportOptions, PaperExport, PostRef
from bot.export.render import (
    CSV_COLUMNS,
    RENDERERS,
    bibtex_entry,
    bibtex_key,
    bibtex_year,
    csv_row,
    json_record,
    render_bibtex,
    render_csv,
    render_json,
    spreadsheet_safe,
    ts_to_utc,
)
from bot.export.slack import ExportUsage, SlackExport, SlackRequest, export_filename, export_to_slack, parse_command
from bot.links import abs_url

__all__ = [
    "BATCH",
    "CSV_COLUMNS",
    "EXTENSIONS",
    "FORMATS",
    "RENDERERS",
    "Counted",
    "ExportOptions",
    "ExportUsage",
    "PaperExport",
    "PostRef",
    "RefusedOutput",
    "SlackExport",
    "SlackRequest",
    "abs_url",
    "atomic_file",
    "bibtex_entry",
    "bibtex_key",
    "bibtex_year",
    "collect",
    "csv_row",
    "export_filename",
    "export_to_slack",
    "json_record",
    "parse_command",
    "render_bibtex",
    "render_csv",
    "render_json",
    "since_ts",
    "spreadsheet_safe",
    "ts_to_utc",
    "write_export",
]
