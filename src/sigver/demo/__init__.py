"""``sigver demo``: the whole pipeline end to end on built-in synthetic data, with a report
(Markdown + self-contained HTML) a person would read."""
