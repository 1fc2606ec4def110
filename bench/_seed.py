"""Seed a benchmark database: one business, its owner and a full-scope API token (printed on stdout).

Run by bench/http.py with the server's environment (NIAGA_DATA_DIR, NIAGA_MASTER_KEY, …) after
`niaga db upgrade`, through the same services that sign-up and the token API use.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path[0] = str(Path(__file__).resolve().parents[1])  # the repository, never bench/ (http.py would shadow http)


def main() -> int:
    from niaga.app import bootstrap
    from niaga.config import load_settings
    from niaga.identity import auth
    from niaga.identity.accounts import SignUpForm, sign_up
    from niaga.identity.passwords import Passwords
    from niaga.privacy.audit import Actor

    settings = load_settings()
    database = bootstrap(settings)
    form = SignUpForm(full_name="Bench Owner", company_name="Toko Benchmark", position="Pemilik",
                      email="owner@bench.example", phone="081200001111", birth_date="1985-05-05",
                      password="bench-kopi-susu-gula-aren-2026", accept_terms=True)
    with database.transaction() as session:
        user = sign_up(session, form, settings, Passwords(settings.argon2_time_cost, settings.argon2_memory_kib),
                       Actor.system())
        secret, _ = auth.create_token(session, user, "benchmark", [], Actor.system())
    database.dispose()
    print(secret)
    return 0


if __name__ == "__main__":
    sys.exit(main())
