"""Soak: many connections driving and observing answers for minutes, while the server process is watched from
outside for anything that grows (memory, open files, asyncio tasks, database connections).

    .venv/bin/python -m bench.soak --minutes M --connections C [--database postgresql] [--broadcast redis]

- `traffic`: the connections (graphql-transport-ws), drivers and observers, and the check of every answer;
- `probe`: samples of the server process (/proc and its `/metrics`) and of the other processes' CPU;
- `verdict`: the figures of a run (start after the warm-up, end, max, growth), its checks and its report;
- `__main__`: starts the model, the server and the traffic, and prints the report (exit 1 if a check fails).

It is a command of its own rather than a part of `python -m bench`: it runs for as long as it is told (ten minutes
for the README's figures) and measures the server against itself over time, not against a baseline.
"""
