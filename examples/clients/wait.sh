#!/usr/bin/env bash
# Follows a job with Prefer: wait and its ETag: prints its status each time it changes, then the
# result. Needs BASE (…/api/v1/flickr), JOB and TOKEN.
set -euo pipefail
url="$BASE/jobs/$JOB"
etag=""
while :; do
  # The ETag of the status we have: the function holds the request until the job changes (up to
  # 20 s), then answers 200 with the new status, or 304 when nothing changed.
  reply=$(curl -sS -i "$url" -H "Authorization: Bearer $TOKEN" -H 'Prefer: wait=20' \
    ${etag:+-H "If-None-Match: $etag"})
  read -r _ status _ <<<"$reply"   # the status line: HTTP/1.1 200 OK
  body=$(printf '%s\n' "$reply" | sed '1,/^\r*$/d')
  case $status in
    200)
      etag=$(printf '%s\n' "$reply" | sed -n 's/^etag: *//Ip' | tr -d '\r')
      printf '%s\n' "$body"
      case $body in
        *'"state":"completed"'* | *'"state":"failed"'*) break ;;
      esac
      ;;
    304) ;;          # nothing new for 20 s: ask again
    503) sleep 1 ;;  # the table is unavailable: Retry-After says 1 s
    *) printf '%s %s\n' "$status" "$body" >&2; exit 1 ;;
  esac
done
curl -sS "$url/result" -H "Authorization: Bearer $TOKEN"
echo
