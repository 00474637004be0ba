// The Node.js half of the ESL benchmark: modesl (the most used Node ESL client) connects
// to the replay server, subscribes to the same events as Ringside, reads the same fields
// of every event, and prints events/s and CPU per event when the server hangs up.
'use strict';
const esl = require('modesl');

const [host, port, format] = [process.argv[2], Number(process.argv[3]), process.argv[4] || 'json'];
const EVENTS = 'CHANNEL_CREATE CHANNEL_PROGRESS CHANNEL_PROGRESS_MEDIA CHANNEL_ANSWER CHANNEL_BRIDGE CHANNEL_UNBRIDGE CHANNEL_HANGUP_COMPLETE CALL_UPDATE BACKGROUND_JOB HEARTBEAT';
// The fields Ringside's connector extracts from each event.
const FIELDS = ['Event-Name', 'Event-Date-Timestamp', 'Unique-ID', 'Other-Leg-Unique-ID', 'Channel-Call-UUID',
  'variable_call_uuid', 'Call-Direction', 'Channel-Name', 'Caller-Caller-ID-Number', 'Caller-Caller-ID-Name',
  'Caller-Destination-Number', 'Hangup-Cause', 'variable_originate_disposition', 'variable_DIALSTATUS',
  'Bridge-A-Unique-ID', 'Bridge-B-Unique-ID', 'variable_ringside_dial_id', 'Job-UUID', 'variable_dialed_user',
  'variable_sip_gateway_name', 'variable_other_loopback_leg_uuid'];

let n = 0, chars = 0, t0 = null, cpu0 = null;
const conn = new esl.Connection(host, port, 'ClueCon', () => {
  conn.events(format, EVENTS);
});
conn.on('esl::event::**', function (ev) {
  if (!ev || typeof ev.getHeader !== 'function' || !ev.getHeader('Event-Name')) return;
  if (ev.type === undefined && !ev.headers) return;
  if (t0 === null) { t0 = process.hrtime.bigint(); cpu0 = process.cpuUsage(); }
  for (const f of FIELDS) { const v = ev.getHeader(f); if (v) chars += v.length; }
  n++;
});
conn.on('esl::end', () => {
  const wall = Number(process.hrtime.bigint() - t0) / 1e9;
  const c = process.cpuUsage(cpu0);
  const cpuUs = (c.user + c.system) / n;
  console.log(`RESULT client=modesl format=${format} events=${n} wall_s=${wall.toFixed(3)} events_per_s=${(n / wall).toFixed(0)} cpu_us_per_event=${cpuUs.toFixed(2)}`);
  process.exit(0);
});
conn.on('error', (e) => { console.error('modesl error:', e.message); process.exit(1); });
