"""A kiosk process for test_ticket_time: the shell as `vaxflow kiosk` builds it, one walk-in.

Run as `python -m tests.kiosk.ticket_time_kiosk SITE_FILE SERVER_URL PRINTER_DIR` with the
kiosk computer's own zone in TZ; prints the ticket number as JSON and exits.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

from tests.faults.kit import adult_card
from vaxflow.config import load_settings
from vaxflow.hardware.sim_idcard import SimIdCardReader
from vaxflow.kiosk import flow as f
from vaxflow.kiosk.wiring import AppOptions
from vaxflow.screens.kiosk.app import kiosk_shell


async def main(config: Path, url: str, printer_dir: Path) -> int:
    options = AppOptions(
        server=url,
        token="demo-kiosk-token",
        device_id="kiosk-tz",
        sim_devices=True,
        printer_dir=printer_dir,
    )
    shell = kiosk_shell(load_settings(config), options)

    def answer(state: f.State) -> None:
        if state.screen is f.Screen.QUESTION:
            asyncio.get_running_loop().call_soon(shell.touch, f.Action.NO)
        elif state.screen is f.Screen.CONFIRM_ANSWERS:  # the booking's answers: unchanged
            asyncio.get_running_loop().call_soon(shell.touch, f.Action.YES)
        elif state.screen is f.Screen.CONSENT:
            asyncio.get_running_loop().call_soon(shell.touch, f.Action.AGREE)

    shell.listeners.append(answer)
    await shell.start()
    try:
        reader = shell.devices.idcard
        assert isinstance(reader, SimIdCardReader)
        reader.present(adult_card(77))
        await shell.wait_screen(f.Screen.WAIT_BOOKING, within=20)
        shell.touch(f.Action.WALK_IN)
        await shell.wait_screen(f.Screen.WALK_IN)
        shell.touch(f.Action.AGREE)
        state = await shell.wait_for(lambda s: s.print_state is f.PrintState.PRINTED, within=30)
        assert state.ticket is not None
        print(json.dumps({"ticket": state.ticket.number}))
    finally:
        await shell.stop()
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main(Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3]))))
