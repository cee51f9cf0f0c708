"""Published results: aggregate run directories into leaderboards, plots and READMEs.

`bench leaderboard --pair P` and `bench publish` read `<runs>/<pair>/<model>/seed<k>/`
(config.json + metrics.json), never the models' code, plus the records published before
(`<out>/records/`, a runs folder without checkpoints), and write `<out>/<pair>/` (runs.csv,
leaderboard.csv, README.md, PNG plots), the updated records and the index `<out>/README.md`.

Modules, one job each: `collect` (scan run directories -> runs table), `archive` (the published
records and how runs replace them), `aggregate` (mean and
95% CI per model and budget), `columns` (metric directions, headline metric per pair, model
roles), `paper` (the AugIntAE paper's published numbers), `palette` (one colour per model),
`plots` (metric figures), `images` (interpolation and few-shot grids; loads models),
`markdown` (the READMEs), `writer` (staging folder + rename swap, so a failure keeps the
previous files).
"""

from bench.publish.writer import publish, publish_pair

__all__ = ["publish", "publish_pair"]
