#!/bin/sh
# usage: check-disk --data-file-path F --aggregator-address A --redis-address HOST:PORT
data="$2"; redis="$6"
incident=$(sed -n 's/.*"uuid" *: *"\([^"]*\)".*/\1/p' "$data")
usage=$(df --output=pcent / | tail -1 | tr -dc 0-9)
result="{\"incident\": \"$incident\", \"name\": \"check-disk\", \"status\": \"successful\",
 \"results\": {\"analysis\": \"root filesystem at ${usage}%\", \"actions\": [\"record\"]}}"
set -- -h "${redis%:*}" -p "${redis##*:}"
redis-cli "$@" RPUSH "euphrosyne:results:$incident" "$result" >/dev/null
redis-cli "$@" EXPIRE "euphrosyne:results:$incident" 86400 >/dev/null
redis-cli "$@" PUBLISH "$incident" "$result" >/dev/null
