"""Status views of bots: read (a bot's API, or ArbitrageBots in a cluster), shape, print.

- `api_reader.py`: one bot's API answers over HTTP (`flash-green status`);
- `bot_view.py`: those answers as one summary record and its table (pure);
- `output.py`: tables through rich (colour only on a terminal), JSON and YAML.
"""
