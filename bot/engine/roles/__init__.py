"""Work out which input plays which part in the onboarding, from content first.

- `onboarding`: the parts (`Role`) and the inputs sorted into them (`Onboarding`);
- `assign`: `assign_roles`, which sorts the inputs: what they hold first, then how their
  certificates relate, names last;
- `content`: what a file's keys and certificates say; `names`: what its name says;
- `pick`: the client certificate, the keys and the CAs chosen among the sorted files.
"""

from bot.engine.roles.assign import assign_roles
from bot.engine.roles.names import client_cert_named, server_named
from bot.engine.roles.onboarding import Onboarding, Role, file_format_of

__all__ = ["Onboarding", "Role", "assign_roles", "client_cert_named", "file_format_of", "server_named"]
