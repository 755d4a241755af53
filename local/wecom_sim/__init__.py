"""A local WeCom API simulator (dev and test tooling): real HTTP, WeCom's errcodes, a control API.

Start it in-process with ``start_simulator`` or standalone with ``python -m local.wecom_sim``; see README.md.
"""

from .config import SimulatorConfig
from .server import SimulatorHandle, start_simulator
from .state import SimulatorState

__all__ = ["SimulatorConfig", "SimulatorHandle", "SimulatorState", "start_simulator"]
