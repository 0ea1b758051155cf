# Sourced by the .ci scripts: `require COMMAND:PACKAGE ...` installs, from Debian's
# packages, each PACKAGE whose COMMAND is missing; `dpkg` as the command checks the
# package itself (a library). Runs as root on a fresh Debian 12 with CI=true, no stdin.
require() {
  local need=() entry command package
  for entry in "$@"; do
    command="${entry%%:*}"
    package="${entry#*:}"
    if [[ "$command" == dpkg ]]; then
      dpkg-query -W -f='${Status}' "$package" 2> /dev/null | grep -q "install ok installed" || need+=("$package")
    else
      command -v "$command" > /dev/null || need+=("$package")
    fi
  done
  if ((${#need[@]})); then
    echo "== installing ${need[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq < /dev/null
    apt-get install -y -qq "${need[@]}" < /dev/null > /dev/null
  fi
}
