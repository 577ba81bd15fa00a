"""QuickFIX's real acceptor, run as a child process by the QuickFIX tests: `python quickfix_acceptor.py SETTINGS`.

Prints READY once it listens; stops when its stdin closes. Session events go to stdout.
"""

from __future__ import annotations

import sys

import quickfix as fix


class App(fix.Application):  # type: ignore[misc]
    def onCreate(self, session: object) -> None:
        pass

    def onLogon(self, session: object) -> None:
        print("LOGON", flush=True)

    def onLogout(self, session: object) -> None:
        print("LOGOUT", flush=True)

    def toAdmin(self, message: object, session: object) -> None:
        pass

    def fromAdmin(self, message: object, session: object) -> None:
        pass

    def toApp(self, message: object, session: object) -> None:
        pass

    def fromApp(self, message: object, session: object) -> None:
        pass


def main() -> None:
    settings = fix.SessionSettings(sys.argv[1])
    acceptor = fix.SocketAcceptor(App(), fix.MemoryStoreFactory(), settings, fix.FileLogFactory(settings))
    acceptor.start()
    print("READY", flush=True)
    try:
        sys.stdin.read()  # until the test closes our stdin
    finally:
        acceptor.stop()


if __name__ == "__main__":
    main()
