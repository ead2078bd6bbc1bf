# The readiness probe of every server unit (ExecStartPost=): `curl` on the engine's health
# route until it answers, while the server runs. The unit becomes active only then
# (ExecStartPost= runs after the main process started and before the unit counts as started;
# systemd.service(5)), under TimeoutStartSec=; if the server exits first, the start fails.
# `kill -0` is bash's builtin. A file of its own so tests can read the script.
{ pkgs }:
name:
pkgs.writeShellScript "hwflake-${name}-ready" ''
  set -u
  url=$1
  while ! ${pkgs.curl}/bin/curl --silent --fail --max-time 5 --output /dev/null "$url"; do
    if ! kill -0 "$MAINPID" 2>/dev/null; then
      echo "hwflake-${name}: the server exited before $url answered" >&2
      exit 1
    fi
    ${pkgs.coreutils}/bin/sleep 2
  done
''
