"""Staff sign-in on a native console (the Kivy station) as a view-model: a staff number, a PIN
typed on a keypad, who is signed in, sign-out, and sign-out after a quiet spell. No Kivy here.

The session token lives only in this object and the client's header; nothing is written to disk.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass

from vaxflow.config.pins import PIN_MAX_DIGITS
from vaxflow.queue.api.models import StaffPerson, StaffSignInResponse
from vaxflow.queue.client.site import ServerRefused, ServerUnreachable, SiteClient
from vaxflow.queue.client.words import in_language, words


@dataclass
class SignInView:
    """What the sign-in screen shows."""

    staff_id: str = ""
    pin: str = ""
    error: str = ""
    busy: bool = False
    person: StaffPerson | None = None  # once signed in
    idle_minutes: float = 15.0
    required: bool = False

    @property
    def pin_dots(self) -> str:
        return "*" * len(self.pin)


def _words(err: ServerRefused, language: str) -> str:
    """The server's words for a refusal in the console's language."""
    return in_language(err.messages, language, err.message)


class StaffSignIn:
    """Sign a person in at this device; `changed` redraws, `now` is a monotonic clock in seconds."""

    def __init__(
        self,
        client: SiteClient,
        *,
        changed: Callable[[], None] = lambda: None,
        now: Callable[[], float],
        language: str = "zh-CN",
    ) -> None:
        self.client = client
        self.language = language
        self.view = SignInView()
        self.changed = changed
        self.now = now
        self.last_active = now()
        self._session: str | None = None

    async def load_rules(self) -> None:
        """The site's idle time-out and whether sign-in is required."""
        try:
            me = await self.client.staff_me()
        except (ServerRefused, ServerUnreachable):
            return
        self.view.idle_minutes, self.view.required = me.idle_minutes, me.required

    # --- the keypad ------------------------------------------------------------------------

    def press(self, key: str) -> None:
        """A keypad key: a digit, "back" or "clear"."""
        v = self.view
        if key == "back":
            v.pin = v.pin[:-1]
        elif key == "clear":
            v.pin = ""
        elif key.isdigit() and len(v.pin) < PIN_MAX_DIGITS:
            v.pin += key
        self.touch()
        self.changed()

    def set_staff_id(self, text: str) -> None:
        self.view.staff_id = text.strip().upper()

    async def submit(self, badge: str | None = None) -> bool:
        """Sign in with the staff number and PIN (or a scanned badge); True when signed in."""
        v = self.view
        v.busy, v.error = True, ""
        self.changed()
        answer: StaffSignInResponse
        try:
            self.client.set_staff_session(None)
            answer = await self.client.staff_sign_in(
                staff_id=v.staff_id or None, pin=v.pin or None, badge=(badge or "").strip() or None
            )
        except ServerRefused as err:
            v.error = _words(err, self.language)
            return False
        except ServerUnreachable:
            v.error = words("msg.unreachable", self.language)
            return False
        finally:
            v.pin, v.busy = "", False
            self.changed()
        self._session = answer.session
        self.client.set_staff_session(self._session)
        v.person = answer.staff
        self.touch()
        self.changed()
        return True

    async def sign_out(self) -> None:
        """End the session on the server (a lost answer is fine: it idles out there too)."""
        if self._session is not None:
            with contextlib.suppress(ServerRefused, ServerUnreachable):
                await self.client.staff_sign_out()
        self._session = None
        self.client.set_staff_session(None)
        self.view.person, self.view.staff_id, self.view.pin = None, "", ""
        self.changed()

    # --- inactivity -----------------------------------------------------------------------

    def touch(self) -> None:
        self.last_active = self.now()

    def idle(self) -> bool:
        """Signed in and untouched for longer than the site's idle time-out."""
        quiet = self.now() - self.last_active
        return self.view.person is not None and quiet > self.view.idle_minutes * 60
