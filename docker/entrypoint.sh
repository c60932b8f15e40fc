#!/bin/sh
# Image entrypoint (as in aws-for-fluent-bit): print the image version, then replace this shell with
# the router so that ECS's SIGTERM reaches it directly. Paths are relative to the install root, so
# a staged tree (cmake --install --prefix DIR --component image) runs the same way.
set -e
root=$(cd "$(dirname "$0")/.." && pwd)
echo "firelane image version $(cat "$root/VERSION")"
if [ "$#" -eq 0 ]; then
  set -- -c "$root/etc/fluent-bit.conf"
fi
exec "$root/bin/fluent-bit" "$@"
