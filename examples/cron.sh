#!/usr/bin/env bash
# cxskill in cron: apply a roster every night, keep a dated copy of the JSON
# report and of the failed rows, and act on the exit code.
#
# Install (crontab -e), e.g. every night at 02:30:
#   30 2 * * *  /opt/cxskill/cron.sh /data/hr/roster.csv >>/var/log/cxskill/cron.log 2>&1
#
# Configuration comes from the config file (chmod 600), not from this
# script: a profile names the tenant and where each secret comes from
# (`*_file` or `*_command`), so nothing secret is written here or in the
# crontab. Check it once by hand with:
#   cxskill auth check --profile prod
#
# Environment this script reads (all optional):
#   CXSKILL_PROFILE   profile of the config file (default: prod)
#   CXSKILL_LOG_DIR   where reports are kept     (default: /var/log/cxskill)
#   CXSKILL_KEEP_DAYS days of reports to keep    (default: 90)
#   CXSKILL_MAILTO    who hears about failures   (default: none: stderr only)
#
# Exit codes of cxskill (see `cxskill --help`, or `man cxskill`):
#   0  everything is in place          1  some rows failed, the rest applied
#   2  roster invalid, or no --yes; nothing sent
#   3  auth, network or config failure
#   4  (plan --detailed-exitcode only) there are changes to apply
set -euo pipefail

roster=${1:?usage: cron.sh ROSTER}
profile=${CXSKILL_PROFILE:-prod}
log_dir=${CXSKILL_LOG_DIR:-/var/log/cxskill}
keep_days=${CXSKILL_KEEP_DAYS:-90}
mailto=${CXSKILL_MAILTO:-}

stamp=$(date +%Y-%m-%dT%H%M%S)
report="$log_dir/report-$stamp.json"
failed="$log_dir/failed-$stamp.csv"
# Reports name agents and skills: keep them private.
umask 077
mkdir -p "$log_dir"

# Say something to whoever watches: mail when configured, stderr always
# (cron mails a job's output to its owner).
notify() {
    local subject=$1 body_file=${2:-/dev/null}
    # A run stopped before the roster was read writes no files.
    [[ -f $body_file ]] || body_file=/dev/null
    echo "cxskill: $subject" >&2
    if [[ -n $mailto ]] && command -v mail >/dev/null; then
        mail -s "cxskill: $subject" "$mailto" <"$body_file" || true
    fi
}

# One run at a time: a slow run must not overlap the next night's.
if command -v flock >/dev/null; then
    exec 9>"$log_dir/.lock"
    if ! flock -n 9; then
        notify "another run is still going; skipped $stamp"
        exit 0
    fi
fi

# --yes (alias --auto-approve): nobody is there to answer the prompt, and
# off a terminal apply without it refuses at once (exit 2, nothing sent).
# --output json keeps cron's mail short (stdout is the same document as
# --report, so it is dropped). To follow a long run in the log, add -v: a
# progress line at most every 10 s (`applying: 1,200/5,000 requests, 48/s,
# ETA 1m19s`), plus the other -v diagnostics, on stderr.
status=0
cxskill apply "$roster" --profile "$profile" --yes --output json \
    --report "$report" --failed-rows "$failed" >/dev/null || status=$?

case $status in
    0)
        # Everything in place. The failed-rows file has only a header.
        rm -f "$failed"
        ln -sfn "$report" "$log_dir/latest.json"
        ;;
    1)
        # Some rows failed, the rest were applied. The failed rows carry
        # their original columns plus `error`: fix them and run them again.
        ln -sfn "$report" "$log_dir/latest.json"
        notify "some rows failed ($stamp); rerun with: cxskill apply $failed" "$failed"
        ;;
    2)
        # The roster (or the command line) is invalid, or a guard
        # (--max-removals) stopped the run; nothing was sent. The
        # failed-rows file lists every invalid row with its error.
        notify "roster $roster is invalid; nothing was sent" "$failed"
        ;;
    3)
        # Could not authenticate or reach the tenant, or the configuration
        # is wrong. The report (when written) says why; so does:
        #   cxskill auth check --profile $profile
        notify "cannot authenticate to or reach CXone (profile $profile); run: cxskill auth check --profile $profile" "$report"
        ;;
    4)
        # Only `plan --detailed-exitcode` exits 4; apply never does.
        notify "unexpected exit 4 from apply"
        ;;
    *)
        notify "cxskill exited $status (killed, or not installed?)"
        ;;
esac

# Keep $keep_days days of reports and failed rows.
find "$log_dir" -maxdepth 1 -type f \( -name 'report-*.json' -o -name 'failed-*.csv' \) \
    -mtime +"$keep_days" -delete

exit "$status"
