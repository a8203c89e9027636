#!/bin/sh
# usage: check-disk --data-file-path F --aggregator-address A --redis-address R
data="$2"
incident=$(sed -n 's/.*"uuid" *: *"\([^"]*\)".*/\1/p' "$data")
usage=$(df --output=pcent / | tail -1 | tr -dc 0-9)
curl -fsS -X POST -H 'Content-Type: application/json' "$EUPHROSYNE_RESULT_URL" -d "{
  \"incident\": \"$incident\", \"name\": \"check-disk\", \"status\": \"successful\",
  \"results\": {\"analysis\": \"root filesystem at ${usage}%\", \"actions\": [\"record\"]}}"
