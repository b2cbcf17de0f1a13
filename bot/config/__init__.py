"""The bot's configuration: `Settings`, its table, its toggles and its problems.

`bot.config.Settings` is the stable entry point; the rest is re-exported here so callers import
from one place.
"""

from bot.config.catalog import (
    SettingInfo,
    catalog,
    hydrated_env_names,
    parse_env_file,
    secret_env_names,
    setting_named,
)
from bot.config.problems import ConfigError, ConfigProblem, is_placeholder, placeholder
from bot.config.settings import Settings
from bot.config.toggles import (
    BACKEND_REQUIREMENTS,
    FNALITY_REQUIREMENTS,
    TOGGLE_REQUIREMENTS,
    TOGGLES,
    Toggle,
)

__all__ = [
    "BACKEND_REQUIREMENTS",
    "FNALITY_REQUIREMENTS",
    "TOGGLES",
    "TOGGLE_REQUIREMENTS",
    "ConfigError",
    "ConfigProblem",
    "SettingInfo",
    "Settings",
    "Toggle",
    "catalog",
    "hydrated_env_names",
    "is_placeholder",
    "parse_env_file",
    "placeholder",
    "secret_env_names",
    "setting_named",
]
