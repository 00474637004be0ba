// The Node.js side of the comparison: asterisk-manager@0.2.0 (installed by run.sh into a
// temp folder) reads the stream the Go server sends and counts the events it emits.
'use strict';
const [modDir, addr] = process.argv.slice(2);
const [host, port] = addr.split(':');
const cpu0 = process.cpuUsage();
const t0 = process.hrtime.bigint();
const AMI = require(modDir + '/node_modules/asterisk-manager');
const ami = AMI(Number(port), host, 'ringside', 'secret', true);
let events = 0;
ami.on('managerevent', () => { events++; });
ami.on('close', () => {
  setImmediate(() => {
    const wall = Number(process.hrtime.bigint() - t0) / 1e9;
    const c = process.cpuUsage(cpu0);
    const cpu = (c.user + c.system) / 1e6;
    console.log(JSON.stringify({client: 'asterisk-manager@0.2.0 (Node ' + process.version + ')', events, wall_s: +wall.toFixed(4), cpu_s: +cpu.toFixed(4)}));
    process.exit(0);
  });
});
