// Starts axa-group's oauth2-mock-server on 127.0.0.1 (any free port) with one RS256 key, prints
// its issuer URL on stdout, and runs until stdin closes (the xtask holds it open) or it is killed.
import { OAuth2Server } from 'oauth2-mock-server';

const server = new OAuth2Server();
await server.issuer.keys.generate('RS256');
// Kinde (like Auth0) names the API a token is for with an `audience` form parameter; this provider
// only knows `aud`. Configure it the way a provider set up for that API would issue its tokens.
server.service.on('beforeTokenSigning', (token, req) => {
  const audience = req.body && req.body.audience;
  if (typeof audience === 'string' && audience !== '') {
    token.payload.aud = audience;
  }
});
await server.start(0, '127.0.0.1');
console.log(server.issuer.url);
process.stdin.resume();
process.stdin.on('end', async () => {
  await server.stop();
  process.exit(0);
});
