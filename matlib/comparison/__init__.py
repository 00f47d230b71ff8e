"""The series' scoreboard: every notebook's results file turned into the review's three tables.

Each notebook writes ``<results root>/<notebook>/results.json``; these functions read what is there
and put the methods side by side with the same columns, the judge, the window, the training split,
the profile and the hardware of every row, so that no number travels without its conditions.

* ``structure_table``: Table 1 (validity, coverage, property distances) for the structure
  generators (notebooks 02 and 04), with the published rows;
* ``composition_table``: Table 2 (MatGAN's recovery, novelty, uniqueness, SMACT validity);
* ``targeted_table``: Table 3 (success rates of Con-CDVAE, adapters + guidance and the latent
  swarm, with their unconditioned baselines), plus the cost of a success in generation seconds.

Modules: ``tables`` (Tables 1 and 2, structure constraints), ``targeted`` (Table 3), ``document``
(the whole comparison and any table as Markdown).
"""
from .tables import (CONSTRAINED_PERCENT, GENERATORS, STRUCTURE_GENERATORS, TABLE1_COLUMNS, TABLE2_FRACTIONS,
                     TABLE2_HEADERS, TABLE2_PERCENT, TARGETED, collect, composition_table, constrained_table, protocol,
                     structure_table)
from .targeted import (RATE_ERRORS, RATES, SHOWN_TABLE3, TABLE3_COLUMNS, judges_used, shared_rows, shared_tasks,
                       targeted_table, task_name)
from .document import markdown, report

__all__ = ["STRUCTURE_GENERATORS", "TARGETED", "GENERATORS", "TABLE2_HEADERS", "TABLE2_FRACTIONS", "TABLE2_PERCENT",
           "SHOWN_TABLE3", "RATES", "RATE_ERRORS", "CONSTRAINED_PERCENT", "collect", "structure_table", "composition_table", "constrained_table", "task_name",
           "targeted_table", "judges_used", "shared_tasks", "shared_rows", "report", "markdown"]
