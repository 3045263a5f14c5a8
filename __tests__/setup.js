// As scripts/register.js: the pinned AWS SDK's warning about its future versions on Node 20.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
const { Testing } = require("cdktf");
Testing.setupJest();
