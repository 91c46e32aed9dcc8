//! A bulk copy that is not iperf3: three TCP flows of a python script
//! from one namespace host to another, each bounded to 40 s and 40 MB.

use std::time::Duration;

use super::netns::{Daemon, Net};

/// Accepts connections on IP:9000 and reads them until closed.
const SINK: &str = "import socket,sys,threading
s=socket.socket(); s.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1)
s.bind((sys.argv[1],9000)); s.listen(8)
sys.stderr.write('listening\\n'); sys.stderr.flush()
def drain(c):
    while c.recv(65536): pass
while True:
    c,_=s.accept(); threading.Thread(target=drain,args=(c,),daemon=True).start()
";

/// Three connections to IP:9000, each sending for at most 40 s and 40 MB.
const COPY: &str = "import socket,sys,threading,time
end=time.time()+40
def send():
    c=socket.create_connection((sys.argv[1],9000)); b=b'x'*65536; n=0
    while time.time()<end and n<40_000_000: n+=c.send(b)
ts=[threading.Thread(target=send) for _ in range(3)]
[t.start() for t in ts]; [t.join() for t in ts]
";

/// Starts a sink on host `to` (port 9000) and the three flows from host
/// `from` to it; both stop on drop.
pub fn python_flows(net: &Net, from: usize, to: usize) -> (Daemon, Daemon) {
    let at = net.host(to).ip.to_string();
    let mut sink = Daemon::start(net.command(to, "python3").args(["-c", SINK, &at])).unwrap();
    sink.wait_for("listening", Duration::from_secs(10)).unwrap();
    let copy = Daemon::start(net.command(from, "python3").args(["-c", COPY, &at])).unwrap();
    (sink, copy)
}
