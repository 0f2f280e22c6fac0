"""The compatibility matrix: the suite run on the RAdam implementations users install.

:mod:`~radam_verify.matrix.configurations` lists them with their documented configurations
and the explanation of each known deviation, :mod:`~radam_verify.matrix.run` runs them and
:mod:`~radam_verify.matrix.page` writes the table (``reports/matrix/README.md``).
"""
