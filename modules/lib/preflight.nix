# The CPU feature check every unit with an ISA floor runs in ExecStartPre: a POSIX sh script
# (no external programs) that reads /proc/cpuinfo and fails with one journal line naming what
# is missing, instead of letting the server die with SIGILL after start-up (seed 001).
#
#   preflight <unit> <feature>...
#
# A feature is a /proc/cpuinfo flag ("avx2" on the x86 `flags` line, "asimd" on the Arm
# `Features` line), "powerN" (the `cpu` line names POWER N or newer), or "vsx" (on POWER:
# POWER7 or newer, whose cpuinfo has no flags line). HWFLAKE_CPUINFO overrides the file, for
# tests. An unreadable file is reported and not held against the unit.
''
  unit=$1
  shift
  cpuinfo=''${HWFLAKE_CPUINFO:-/proc/cpuinfo}
  if [ ! -r "$cpuinfo" ]; then
    echo "$unit: cannot read $cpuinfo to check the CPU features its build needs ($*); starting without the check" >&2
    exit 0
  fi
  flags=""
  gen=""
  while IFS= read -r line || [ -n "$line" ]; do
    case $line in
      flags*:* | Features*:*)
        if [ -z "$flags" ]; then flags=" ''${line#*:} "; fi
        ;;
      cpu*:*POWER[0-9]*)
        if [ -z "$gen" ]; then
          g=''${line#*POWER}
          gen=''${g%%[!0-9]*}
        fi
        ;;
    esac
  done < "$cpuinfo"
  missing=""
  for need in "$@"; do
    ok=no
    case $need in
      power[0-9]*)
        want=''${need#power}
        if [ -n "$gen" ] && [ "$gen" -ge "$want" ]; then ok=yes; fi
        need="POWER$want or newer (this CPU: ''${gen:+POWER}''${gen:-no POWER generation in $cpuinfo})"
        ;;
      vsx)
        if [ -n "$gen" ]; then
          if [ "$gen" -ge 7 ]; then ok=yes; fi
        else
          case $flags in *" vsx "*) ok=yes ;; esac
        fi
        ;;
      *)
        case $flags in *" $need "*) ok=yes ;; esac
        ;;
    esac
    if [ "$ok" != yes ]; then missing="''${missing:+$missing, }$need"; fi
  done
  if [ -n "$missing" ]; then
    echo "$unit: not starting: this CPU lacks $missing, which its build needs (checked $cpuinfo); it would die with SIGILL (illegal instruction)" >&2
    exit 1
  fi
''
