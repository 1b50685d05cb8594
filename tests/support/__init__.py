"""Helpers the tests share: fresh PostgreSQL databases (``pg``), a real stack started for a test
(``stack``), and the processes, imports and corpus runs of the reliability suites
(``reliability``). Fixtures stay in the conftest files; what they and the tests call lives here,
so that no test imports a conftest.
"""
