"""The Tunnels panel as a user sees it: find it, fill its dialogs, press its buttons.

Elements are found by what a person reads (button labels, tunnel names, dialog titles), so
the tests break when the user-visible panel changes, not when its markup is reshuffled.
"""

from __future__ import annotations

from playwright.sync_api import Locator, Page, expect

PANEL_ID = "jupyter-tunnels"


class TunnelsPanel:
    """The panel in a JupyterLab page."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.root = page.locator(f"#{PANEL_ID}")
        self.tab = page.locator(f'.jp-SideBar .lm-TabBar-tab[data-id="{PANEL_ID}"]')

    def open(self) -> None:
        """Click the sidebar tab unless the panel is already shown."""
        if not self.root.is_visible():
            self.tab.click()
        expect(self.root).to_be_visible()

    @property
    def dialog(self) -> Locator:
        """The open JupyterLab dialog."""
        return self.page.locator(".jp-Dialog")

    def dismiss_dialogs(self) -> None:
        """Close dialogs an earlier failed test left open."""
        while self.dialog.count():
            self.page.keyboard.press("Escape")
            expect(self.dialog).to_have_count(0)

    def row(self, name: str) -> Locator:
        """The row of the tunnel called ``name``."""
        title = self.page.locator(".jp-TunnelsPanel-name").get_by_text(name, exact=True)
        return self.root.locator("li.jp-TunnelsPanel-row").filter(has=title)

    def button(self, label: str) -> Locator:
        """A panel button, by its label (``Share dashboard``, ``Expose a port``...)."""
        return self.root.get_by_role("button", name=label, exact=True)

    def accept_dialog(self, label: str) -> None:
        """Press the dialog's button ``label`` and wait for the dialog to go."""
        self.dialog.get_by_role("button", name=label, exact=True).click()
        expect(self.dialog).to_have_count(0)

    def expose(self, port: int, name: str, *, public: bool = False) -> Locator:
        """Expose ``port`` as ``name`` with the panel's form; the new tunnel's row."""
        self.button("Expose a port").click()
        self.dialog.locator('input[name="port"]').fill(str(port))
        self.dialog.locator('input[name="name"]').fill(name)
        if public:
            self.dialog.locator('input[name="public"]').check()
        self.accept_dialog("Expose")
        return self.row(name)

    def toast(self, text: str) -> Locator:
        """A JupyterLab notification containing ``text``."""
        return self.page.locator(".Toastify__toast").filter(has_text=text)
