// mongo-init of docker-compose.yml (run by init-replica-set.sh): initiates
// the replica set, waits for a primary and for every member to be healthy,
// then creates the application user. Idempotent: a restart of the stack
// finds the set and the user and changes nothing.
//
// Environment: REPLICA_SET, MEMBERS (host:port,...; the first one gets the
// highest priority), APP_DATABASE, APP_USERNAME, APP_PASSWORD.
const env = process.env;
const members = env.MEMBERS.split(",");

function initiated() {
  try {
    rs.status();
    return true;
  } catch (e) {
    if (e.codeName === "NotYetInitialized") return false;
    throw e;
  }
}

if (!initiated()) {
  print(`initiating replica set ${env.REPLICA_SET} with ${members.join(", ")}`);
  rs.initiate({
    _id: env.REPLICA_SET,
    members: members.map((host, i) => ({ _id: i, host, priority: i === 0 ? 2 : 1 })),
  });
}

// Wait for a primary and for all members to be PRIMARY or SECONDARY, so that
// w=majority writes succeed as soon as the services start.
const deadline = Date.now() + 180 * 1000;
for (;;) {
  const st = rs.status();
  const ok = st.members.filter((m) => m.health === 1 && (m.state === 1 || m.state === 2));
  const primary = st.members.find((m) => m.state === 1);
  if (primary && ok.length === members.length) {
    print(`primary ${primary.name}; ${ok.length} healthy members`);
    break;
  }
  if (Date.now() > deadline) throw new Error("replica set not ready after 180s: " + JSON.stringify(st.members));
  sleep(1000);
}

// The user is created on the primary; reach it whichever member it is.
const primaryHost = db.hello().primary;
const admin = connect(`mongodb://${primaryHost}/admin`);
admin.auth(env.ROOT_USERNAME, env.ROOT_PASSWORD);
if (admin.getUser(env.APP_USERNAME) === null) {
  admin.createUser(
    { user: env.APP_USERNAME, pwd: env.APP_PASSWORD, roles: [{ role: "readWrite", db: env.APP_DATABASE }] },
    { w: "majority", wtimeout: 60000 },
  );
  print(`created user ${env.APP_USERNAME} (readWrite on ${env.APP_DATABASE})`);
} else {
  print(`user ${env.APP_USERNAME} exists`);
}
