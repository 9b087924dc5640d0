// Starts axa-group's oauth2-mock-server on 127.0.0.1 (any free port) with one RS256 key, prints
// its issuer URL on stdout, and runs until stdin closes (the xtask holds it open) or it is killed.
import { OAuth2Server } from 'oauth2-mock-server';

const server = new OAuth2Server();
await server.issuer.keys.generate('RS256');
await server.start(0, '127.0.0.1');
console.log(server.issuer.url);
process.stdin.resume();
process.stdin.on('end', async () => {
  await server.stop();
  process.exit(0);
});
