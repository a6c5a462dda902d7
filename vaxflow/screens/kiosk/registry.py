"""The one registry of kiosk screens: flow screen -> (module, class); builds the manager."""

from __future__ import annotations

import importlib

from kivy.uix.screenmanager import NoTransition, ScreenManager

from vaxflow.kiosk.flow import Screen
from vaxflow.screens.kiosk.viewmodel import KioskViewModel

#: Flow screen -> (module under vaxflow.screens.kiosk, class). CHECKING and ISSUING share one.
SCREENS: dict[Screen, tuple[str, str]] = {
    Screen.ATTRACT: ("attract", "AttractScreen"),
    Screen.WAIT_CARD: ("wait_card", "WaitCardScreen"),
    Screen.WAIT_BOOKING: ("wait_booking", "WaitBookingScreen"),
    Screen.WALK_IN: ("walk_in", "WalkInScreen"),
    Screen.CHECKING: ("checking", "CheckingScreen"),
    Screen.ISSUING: ("checking", "CheckingScreen"),
    Screen.QUESTION: ("question", "QuestionScreen"),
    Screen.CONSENT: ("consent", "ConsentScreen"),
    Screen.GUARDIAN_CARD: ("guardian_card", "GuardianCardScreen"),
    Screen.GUARDIAN_RELATION: ("guardian_relation", "GuardianRelationScreen"),
    Screen.OFFLINE: ("offline", "OfflineScreen"),
    Screen.PRINTING: ("printing", "PrintingScreen"),
    Screen.TICKET: ("ticket", "TicketScreen"),
    Screen.PROBLEM: ("problem", "ProblemScreen"),
    Screen.DOCUMENT: ("document", "DocumentScreen"),
    Screen.TYPING: ("type_document", "TypingScreen"),
    Screen.CONFIRM_ANSWERS: ("confirm_answers", "ConfirmAnswersScreen"),
}


def screen_name(screen: Screen) -> str:
    """The Kivy screen that shows a flow screen."""
    return SCREENS[screen][0]


def build_manager(vm: KioskViewModel) -> ScreenManager:
    """Every screen, bound to `vm`, in a manager that follows `vm.shown` without animation."""
    importlib.import_module("vaxflow.screens.kiosk.widgets")
    manager = ScreenManager(transition=NoTransition())
    for module_name, class_name in dict.fromkeys(SCREENS.values()):
        module = importlib.import_module(f"vaxflow.screens.kiosk.{module_name}")
        manager.add_widget(getattr(module, class_name)(name=module_name, vm=vm))

    def follow(_vm: KioskViewModel, shown: tuple[str, dict[str, str]]) -> None:
        name, texts = shown
        manager.get_screen(name).t = texts  # only the screen on show gets new words
        manager.current = name

    vm.bind(shown=follow)
    follow(vm, (vm.screen, vm.t))
    return manager
