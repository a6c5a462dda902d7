"""The native console's staff sign-in view-model against the real app: keypad, wrong PIN,
the session on every call, idle and sign-out."""

from __future__ import annotations

from vaxflow.queue.client.site import ServerRefused, SiteClient
from vaxflow.queue.client.staff_signin import StaffSignIn

from .conftest import Site


async def test_keypad_sign_in_session_idle_and_sign_out(site: Site) -> None:
    base = str(site.client.make_url("")).rstrip("/")
    seconds = [1000.0]
    async with SiteClient(base, "demo-station-token") as client:
        model = StaffSignIn(client, now=lambda: seconds[0])
        await model.load_rules()
        assert model.view.idle_minutes == 15 and not model.view.required
        model.set_staff_id(" n0001 ")
        for key in ["9", "9", "9", "9", "9", "back"]:
            model.press(key)
        assert model.view.pin_dots == "****"
        assert not await model.submit()
        assert "登录失败" in model.view.error  # the server's words, in the console's language
        assert model.view.pin == "" and model.view.person is None
        for key in "1234":
            model.press(key)
        assert await model.submit()
        assert model.view.person is not None and model.view.person.id == "N0001"
        me = await client.staff_me()  # the client now sends the session
        assert me.staff is not None and me.staff.label == "王芳 Wang Fang (N0001)"

        seconds[0] += 14 * 60
        assert not model.idle()
        model.touch()
        seconds[0] += 15 * 60 + 1
        assert model.idle()
        await model.sign_out()
        assert model.view.person is None and not model.idle()
        assert (await client.staff_me()).signed_in is False
    async with SiteClient(base, "demo-board-token") as board:
        try:
            await board.staff_sign_in(staff_id="N0001", pin="1234")
        except ServerRefused as err:
            assert err.status == 403
        else:
            raise AssertionError("a board signed a person in")
