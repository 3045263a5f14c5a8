import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { cacheRoot } from "../../build/util";

/**
 * AWS's Java runtime interface client (Maven Central), which the emulator runs Java functions with:
 * `java -cp <client>:<package>:<package>/lib/*:<opt>/java/lib/* ...AWSLambda <handler>`, as the
 * java21 runtime loads a package. Fetched once per machine by `npm run setup` into the cache.
 */
export const JAVA_RIC_VERSION = "2.10.1";
export const JAVA_RIC_MAIN = "com.amazonaws.services.lambda.runtime.api.client.AWSLambda";

export function javaClientDir(): string {
  return path.join(cacheRoot(), "java-ric", JAVA_RIC_VERSION, "lib");
}

const JAR = `aws-lambda-java-runtime-interface-client-${JAVA_RIC_VERSION}.jar`;

/** The client's jars, or an error with the command that fetches them. */
export function javaClientClasspath(): string {
  const dir = javaClientDir();
  if (!fs.existsSync(path.join(dir, JAR))) throw new Error(`the Java runtime interface client is not in ${dir}: npm run setup -- --only functions fetches it from Maven Central`);
  return path.join(dir, "*");
}

/** Fetches the client and its dependencies with Maven, unless they are there. */
export function ensureJavaClient(log: (line: string) => void): void {
  const dir = javaClientDir();
  if (fs.existsSync(path.join(dir, JAR))) return;
  const work = path.dirname(dir);
  fs.mkdirSync(work, { recursive: true });
  fs.writeFileSync(
    path.join(work, "pom.xml"),
    `<project xmlns="http://maven.apache.org/POM/4.0.0"><modelVersion>4.0.0</modelVersion>
<groupId>lambdaship</groupId><artifactId>java-ric</artifactId><version>1</version><packaging>pom</packaging>
<dependencies><dependency><groupId>com.amazonaws</groupId><artifactId>aws-lambda-java-runtime-interface-client</artifactId><version>${JAVA_RIC_VERSION}</version></dependency></dependencies>
<build><plugins><plugin><groupId>org.apache.maven.plugins</groupId><artifactId>maven-dependency-plugin</artifactId><version>3.8.1</version></plugin></plugins></build>
</project>\n`,
  );
  log(`functions: fetching aws-lambda-java-runtime-interface-client ${JAVA_RIC_VERSION} from Maven Central (the emulator runs Java functions with it)`);
  const tmp = `${dir}.tmp-${process.pid}`;
  const r = spawnSync("mvn", ["-B", "-q", "dependency:copy-dependencies", `-DoutputDirectory=${tmp}`], { cwd: work, stdio: ["ignore", "inherit", "inherit"] });
  if (r.error) throw new Error("mvn is not on PATH: install Maven >= 3.8 and a JDK (apt-get install maven) for Java functions");
  if (r.status !== 0) throw new Error(`mvn could not fetch the Java runtime interface client (exit ${r.status}); its output is above`);
  fs.rmSync(dir, { recursive: true, force: true });
  fs.renameSync(tmp, dir);
}
