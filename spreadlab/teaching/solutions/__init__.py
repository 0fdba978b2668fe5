"""Worked solutions to the lessons' exercises, one module per lesson
(``protocol``, ``factory``, ``transport``, ``spread``, ...).

Look here after trying: each class passes its lesson's checker, for example
``check_shouting_echo(spreadlab.teaching.solutions.protocol.ShoutingEcho)``.
"""
