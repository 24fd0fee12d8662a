// Node http server for bench/run.sh: the same response as weftd's
// http-hello and the nginx peer, keep-alive, one process.
// usage: node http_node.js PORT [BODY]
const http = require('http');
const body = Buffer.from(process.argv[3] || 'Hello, world!\n');
http.createServer((req, res) => {
	res.writeHead(200, {
		'Content-Type': 'text/plain',
		'Content-Length': body.length,
	});
	res.end(body);
}).listen(+process.argv[2], '127.0.0.1');
