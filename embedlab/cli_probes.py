"""CLI subcommands for the robustness probes (filled in with embedlab.probes)."""


def add_probe_commands(sub) -> None:
    return None
