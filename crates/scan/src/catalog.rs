//! The credential detector catalogue: one [`DetectorSpec`] per credential format.
//!
//! Each entry carries its own synthetic fixtures (`example` must match, `counter` must not),
//! written as templates that [`crate::synth::expand`] turns into text: `{an:36}` stands for 36
//! generated alphanumeric characters, so no credential-shaped string is stored in this file.

use crate::finding::Severity::{self, Critical, High, Medium};

/// Extra validation a detector applies to a candidate after its regex matched.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Check {
    /// The regex and the entropy floor are enough.
    None,
    /// The first segment must decode (base64url) to a JSON header naming `alg`.
    Jwt,
    /// The value must decode (base64) to `user:password`.
    BasicAuth,
    /// Generic assignment gates: a credential-like key, no reference or placeholder value,
    /// mixed character classes.
    Generic,
    /// A password inside a URL or connection string: no reference or placeholder value.
    Password,
}

/// One credential detector: a rule id, what it finds and how.
#[derive(Clone, Copy, Debug)]
pub struct DetectorSpec {
    /// Stable rule id, used in output, ignores and `keyward:allow` comments.
    pub id: &'static str,
    /// Group for reports and accuracy figures (`azure`, `aws`, `github`, …).
    pub category: &'static str,
    /// How bad a hit is.
    pub severity: Severity,
    /// One-line description.
    pub title: &'static str,
    /// Lowercase literals, one of which must occur in a file before the regex runs.
    pub keywords: &'static [&'static str],
    /// The regex; the named group `s` (or the whole match) is the secret.
    pub pattern: &'static str,
    /// Minimum Shannon entropy (bits per character) of the secret.
    pub min_entropy: f64,
    /// Extra validation.
    pub check: Check,
    /// Fixture template that must produce a finding of this rule.
    pub example: &'static str,
    /// Fixture template of a near miss that must not.
    pub counter: &'static str,
}

#[allow(clippy::too_many_arguments)] // a table row: every field is named at the call site's column
const fn d(
    id: &'static str,
    category: &'static str,
    severity: Severity,
    title: &'static str,
    keywords: &'static [&'static str],
    pattern: &'static str,
    example: &'static str,
    counter: &'static str,
) -> DetectorSpec {
    DetectorSpec {
        id,
        category,
        severity,
        title,
        keywords,
        pattern,
        min_entropy: 3.0,
        check: Check::None,
        example,
        counter,
    }
}

impl DetectorSpec {
    const fn entropy(mut self, bits: f64) -> Self {
        self.min_entropy = bits;
        self
    }

    const fn check(mut self, check: Check) -> Self {
        self.check = check;
        self
    }
}

/// A secret assignment with the key before it: `KEY = "value"`, `key: value`, `"key": "v"`.
macro_rules! assign {
    ($key:literal, $value:literal) => {
        concat!(
            r#"(?i)"#,
            $key,
            // `.=` (PHP, Perl) and `?=` (Make) assign too.
            r#"["']?[ \t]*(?::=|=>|\.=|\?=|=|:)[ \t]*["']?(?P<s>"#,
            $value,
            r#")(?:$|[^A-Za-z0-9+/=_-])"#
        )
    };
}

/// A token with a literal prefix, bounded on both sides by non-token characters.
macro_rules! token {
    ($body:literal) => {
        concat!(
            r#"(?:^|[^A-Za-z0-9_-])(?P<s>"#,
            $body,
            r#")(?:$|[^A-Za-z0-9_-])"#
        )
    };
}

/// Every built-in credential detector.
pub static DETECTORS: &[DetectorSpec] = &[
    // ---- Azure ----
    d("azure-client-secret", "azure", Critical, "Azure AD (Entra ID) client secret",
        &["q~"],
        r#"(?:^|[^A-Za-z0-9_~.-])(?P<s>[A-Za-z0-9_~.]{3}[0-9]Q~[A-Za-z0-9_~.-]{31,34})(?:$|[^A-Za-z0-9_~.-])"#,
        "AZURE_CLIENT_SECRET={an:3}8Q~{an:34}", "AZURE_CLIENT_SECRET={an:3}8Q~{an:12}"),
    d("azure-storage-connection-string", "azure", Critical, "Azure storage account connection string",
        &["accountkey="],
        r#"(?i)AccountName=[^;\s"']+;[ \t]*AccountKey=(?P<s>[A-Za-z0-9+/]{86}==)"#,
        "DefaultEndpointsProtocol=https;AccountName=kwtest;AccountKey={b64:86}==;EndpointSuffix=core.windows.net",
        "DefaultEndpointsProtocol=https;AccountName=kwtest;AccountKey=${STORAGE_KEY}"),
    d("azure-storage-account-key", "azure", Critical, "Azure storage account key",
        &["key"],
        assign!(r#"[\w.-]*(?:storage[\w.-]*key|account[_.-]key)"#, r#"[A-Za-z0-9+/]{86}=="#),
        "storage_account_key: {b64:86}==", "storage_account_key: {b64:40}=="),
    d("azure-cosmosdb-key", "azure", Critical, "Azure Cosmos DB account key",
        &["documents.azure.com"],
        r#"(?i)AccountEndpoint=https://[^;\s]+\.documents\.azure\.com[^;\s]*;[ \t]*AccountKey=(?P<s>[A-Za-z0-9+/]{86}==)"#,
        "AccountEndpoint=https://kw.documents.azure.com:443/;AccountKey={b64:86}==;",
        "AccountEndpoint=https://kw.documents.azure.com:443/;"),
    d("azure-sas-token", "azure", High, "Azure shared access signature (SAS) token",
        &["sig="],
        r#"(?i)sv=20\d\d-\d\d-\d\d[^\s"'<>]*?[?&]sig=(?P<s>[A-Za-z0-9%+/]{40,}(?:%3D|=){0,2})"#,
        "https://kw.blob.core.windows.net/c?sv=2022-11-02&ss=b&srt=o&sp=r&se=2030-01-01T00:00:00Z&sig={b64:43}%3D",
        "https://kw.blob.core.windows.net/c?sv=2022-11-02&sp=r&sig=<signature>"),
    d("azure-shared-access-key", "azure", Critical, "Azure Service Bus / Event Hubs / IoT Hub shared access key",
        &["sharedaccesskey="],
        r#"(?i)SharedAccessKey=(?P<s>[A-Za-z0-9+/]{42,43}=)"#,
        "Endpoint=sb://kw.servicebus.windows.net/;SharedAccessKeyName=Root;SharedAccessKey={b64:43}=",
        "Endpoint=sb://kw.servicebus.windows.net/;SharedAccessKeyName=Root;SharedAccessKey=$(KEY)"),
    d("azure-sql-connection-string", "azure", Critical, "Azure SQL connection string with a password",
        &["database.windows.net"],
        r#"(?i)database\.windows\.net[^\n"]*?(?:Password|Pwd)=(?P<s>[^;"'\s]{6,})"#,
        "Server=tcp:kw.database.windows.net,1433;User ID=app;Password={an:16};Encrypt=True",
        "Server=tcp:kw.database.windows.net,1433;Authentication=Active Directory Default"),
    d("azure-devops-pat", "azure", Critical, "Azure DevOps personal access token",
        &["azdo"],
        token!(r#"[A-Za-z0-9]{52}JQQJ99[A-Za-z0-9][A-Za-z0-9]{2}AZDO[A-Za-z0-9]{4}"#),
        "ADO_TOKEN={an:52}JQQJ99{an:3}AZDO{an:4}", "ADO_TOKEN={an:20}JQQJ99AZDO"),
    d("azure-devops-pat-legacy", "azure", High, "Azure DevOps personal access token (52-character)",
        &["devops", "azdo", "vsts", "ado_"],
        assign!(r#"[\w.-]*(?:devops|azdo|vsts|ado)[\w.-]*(?:pat|token)"#, r#"[a-z2-7]{52}"#),
        "AZURE_DEVOPS_PAT={lb32:52}", "AZURE_DEVOPS_PAT={lb32:30}"),
    d("azure-app-configuration", "azure", Critical, "Azure App Configuration connection string",
        &["azconfig.io"],
        r#"(?i)Endpoint=https://[^;\s]+\.azconfig\.io;[ \t]*Id=[^;\s]+;[ \t]*Secret=(?P<s>[A-Za-z0-9+/]{43,}=)"#,
        "Endpoint=https://kw.azconfig.io;Id=kw-l0-s0:{an:20};Secret={b64:43}=",
        "Endpoint=https://kw.azconfig.io;Id=kw-l0-s0"),
    d("azure-signalr-access-key", "azure", Critical, "Azure SignalR / Web PubSub access key",
        &["accesskey="],
        r#"(?i)Endpoint=https://[^;\s]+\.(?:service\.signalr|webpubsub\.azure)\.[^;\s]+;[ \t]*AccessKey=(?P<s>[A-Za-z0-9+/]{43}=)"#,
        "Endpoint=https://kw.service.signalr.net;AccessKey={b64:43}=;Version=1.0;",
        "Endpoint=https://kw.service.signalr.net;AuthType=azure.msi;Version=1.0;"),
    d("azure-function-key", "azure", High, "Azure Functions key in a URL",
        &["azurewebsites.net"],
        r#"(?i)azurewebsites\.net/api/[^\s?"']*\?(?:[^\s"']*&)?code=(?P<s>[A-Za-z0-9_%-]{40,}(?:==|%3D%3D)?)"#,
        "https://kw.azurewebsites.net/api/hook?code={url:54}==",
        "https://kw.azurewebsites.net/api/hook?code="),
    d("azure-cognitive-services-key", "azure", High, "Azure AI / Cognitive Services / APIM subscription key",
        &["subscription-key", "subscription_key", "cognitive", "openai", "azure_api_key", "azure-api-key"],
        assign!(r#"[\w.-]*(?:ocp-apim-subscription-key|apim[\w.-]*subscription[_-]?key|cognitive[\w.-]*key|azure[\w.-]*openai[\w.-]*key|azure[_-]api[_-]key)"#, r#"[a-f0-9]{32}"#),
        "AZURE_OPENAI_API_KEY={hex:32}", "AZURE_OPENAI_API_KEY={hex:20}"),
    d("azure-redis-access-key", "azure", Critical, "Azure Cache for Redis access key",
        &["redis.cache.windows.net"],
        r#"(?i)redis\.cache\.windows\.net:\d+,[^\n"']*?password=(?P<s>[A-Za-z0-9+/=]{40,})"#,
        "kw.redis.cache.windows.net:6380,password={b64:43}=,ssl=True,abortConnect=False",
        "kw.redis.cache.windows.net:6380,ssl=True"),
    d("azure-eventgrid-key", "azure", High, "Azure Event Grid access key",
        &["aeg-sas-key"],
        assign!(r#"aeg-sas-key"#, r#"[A-Za-z0-9+/]{43}="#),
        "aeg-sas-key: {b64:43}=", "aeg-sas-key: {b64:20}="),
    // ---- AWS ----
    d("aws-access-key-id", "aws", High, "AWS access key ID",
        &["akia", "asia", "abia", "acca", "a3t"],
        r#"(?:^|[^A-Za-z0-9])(?P<s>(?:AKIA|ASIA|ABIA|ACCA|A3T[A-Z0-9])[A-Z2-7]{16})(?:$|[^A-Za-z0-9])"#,
        "aws_access_key_id = AKIA{b32:16}", "aws_access_key_id = AKIA{b32:16}EXTRA"),
    d("aws-secret-access-key", "aws", Critical, "AWS secret access key",
        &["aws"],
        assign!(r#"[\w.-]*aws[\w.-]{0,20}?(?:secret|sk)[\w.-]{0,20}"#, r#"[A-Za-z0-9/+]{40}"#),
        "aws_secret_access_key = {b64:40}", "aws_secret_access_key = {b64:30}"),
    d("aws-session-token", "aws", High, "AWS session token",
        &["session"],
        assign!(r#"[\w.-]*aws[_-]?session[_-]?token"#, r#"[A-Za-z0-9/+=]{100,}"#),
        "AWS_SESSION_TOKEN={b64:180}", "AWS_SESSION_TOKEN={b64:40}"),
    d("aws-mws-key", "aws", High, "Amazon MWS auth token",
        &["amzn.mws"],
        token!(r#"amzn\.mws\.[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"#),
        "mws = amzn.mws.{hex:8}-{hex:4}-{hex:4}-{hex:4}-{hex:12}", "mws = amzn.mws.{hex:8}"),
    d("aws-bedrock-api-key", "aws", Critical, "Amazon Bedrock API key",
        &["absk"],
        r#"(?:^|[^A-Za-z0-9])(?P<s>ABSK[A-Za-z0-9+/]{109,269}={0,2})"#,
        "BEDROCK_KEY=ABSK{b64:120}", "BEDROCK_KEY=ABSK{b64:20}"),
    // ---- Google Cloud ----
    d("gcp-service-account-key", "gcp", Critical, "GCP service-account key file",
        &["private_key_id"],
        r#""private_key_id"[ \t]*:[ \t]*"(?P<s>[a-f0-9]{40})""#,
        r#"{"type": "service_account", "private_key_id": "{hex:40}"}"#,
        r#"{"type": "service_account", "private_key_id": ""}"#),
    d("gcp-api-key", "gcp", High, "Google API key",
        &["aiza"],
        token!(r#"AIza[0-9A-Za-z_-]{35}"#),
        "key=AIza{url:35}", "key=AIza{url:20}"),
    d("gcp-oauth-client-secret", "gcp", High, "Google OAuth client secret",
        &["gocspx-"],
        token!(r#"GOCSPX-[A-Za-z0-9_-]{28}"#),
        "client_secret: GOCSPX-{url:28}", "client_secret: GOCSPX-{url:10}"),
    d("google-oauth-refresh-token", "gcp", High, "Google OAuth refresh token",
        &["1//0"],
        r#"(?:^|[^A-Za-z0-9/])(?P<s>1//0[A-Za-z0-9_-]{40,})"#,
        "refresh_token: 1//0{url:60}", "refresh_token: 1//0{url:10}"),
    d("google-oauth-access-token", "gcp", Medium, "Google OAuth access token",
        &["ya29."],
        token!(r#"ya29\.[0-9A-Za-z_-]{30,}"#),
        "Authorization: ya29.{url:80}", "ya29.short"),
    // ---- GitHub ----
    d("github-pat", "github", Critical, "GitHub personal access token (classic)",
        &["ghp_"], token!(r#"ghp_[A-Za-z0-9]{36}"#),
        "GITHUB_TOKEN=ghp_{an:36}", "GITHUB_TOKEN=ghp_{an:20}"),
    d("github-fine-grained-pat", "github", Critical, "GitHub fine-grained personal access token",
        &["github_pat_"], token!(r#"github_pat_[A-Za-z0-9]{22}_[A-Za-z0-9]{59}"#),
        "token: github_pat_{an:22}_{an:59}", "token: github_pat_{an:22}"),
    d("github-oauth-token", "github", Critical, "GitHub OAuth access token",
        &["gho_"], token!(r#"gho_[A-Za-z0-9]{36}"#),
        "oauth=gho_{an:36}", "oauth=gho_{an:12}"),
    d("github-app-token", "github", Critical, "GitHub App user-to-server or installation token",
        &["ghu_", "ghs_"], token!(r#"(?:ghu|ghs)_[A-Za-z0-9]{36}"#),
        "token=ghs_{an:36}", "token=ghs_{an:30}"),
    d("github-refresh-token", "github", High, "GitHub refresh token",
        &["ghr_"], token!(r#"ghr_[A-Za-z0-9]{36,76}"#),
        "refresh=ghr_{an:76}", "refresh=ghr_{an:10}"),
    // ---- GitLab ----
    d("gitlab-pat", "gitlab", Critical, "GitLab personal access token",
        &["glpat-"], token!(r#"glpat-[A-Za-z0-9_-]{20,}"#),
        "GITLAB_TOKEN=glpat-{url:20}", "GITLAB_TOKEN=glpat-{url:8}"),
    d("gitlab-pipeline-trigger-token", "gitlab", High, "GitLab pipeline trigger token",
        &["glptt-"], token!(r#"glptt-[0-9a-f]{40}"#),
        "trigger=glptt-{hex:40}", "trigger=glptt-{hex:20}"),
    d("gitlab-runner-token", "gitlab", High, "GitLab runner authentication token",
        &["glrt-"], token!(r#"glrt-[A-Za-z0-9_-]{20,}"#),
        "token = \"glrt-{url:20}\"", "token = \"glrt-{url:5}\""),
    d("gitlab-deploy-token", "gitlab", High, "GitLab deploy token",
        &["gldt-"], token!(r#"gldt-[A-Za-z0-9_-]{20,}"#),
        "password: gldt-{url:20}", "password: gldt-{url:5}"),
    d("gitlab-feed-token", "gitlab", Medium, "GitLab feed token",
        &["glft-"], token!(r#"glft-[A-Za-z0-9_-]{20}"#),
        "feed_token=glft-{url:20}", "feed_token=glft-{url:6}"),
    d("gitlab-oauth-app-secret", "gitlab", High, "GitLab OAuth application secret",
        &["gloas-"], token!(r#"gloas-[A-Za-z0-9_-]{64}"#),
        "secret=gloas-{url:64}", "secret=gloas-{url:14}"),
    d("gitlab-scim-token", "gitlab", High, "GitLab SCIM token",
        &["glsoat-"], token!(r#"glsoat-[A-Za-z0-9_-]{20}"#),
        "scim=glsoat-{url:20}", "scim=glsoat-{url:9}"),
    d("gitlab-incoming-mail-token", "gitlab", Medium, "GitLab incoming mail token",
        &["glimt-"], token!(r#"glimt-[A-Za-z0-9_-]{25}"#),
        "mail=glimt-{url:25}", "mail=glimt-{url:9}"),
    d("gitlab-agent-token", "gitlab", High, "GitLab Kubernetes agent token",
        &["glagent-"], token!(r#"glagent-[A-Za-z0-9_-]{50}"#),
        "agent=glagent-{url:50}", "agent=glagent-{url:15}"),
    d("gitlab-cicd-job-token", "gitlab", High, "GitLab CI/CD job token",
        &["glcbt-"], token!(r#"glcbt-[0-9a-zA-Z]{1,5}_[0-9a-zA-Z_-]{20}"#),
        "job=glcbt-{an:2}_{url:20}", "job=glcbt-{an:2}_{url:5}"),
    d("gitlab-runner-registration-token", "gitlab", High, "GitLab runner registration token",
        &["gr1348941"], token!(r#"GR1348941[A-Za-z0-9_-]{20}"#),
        "registration-token: GR1348941{url:20}", "registration-token: GR1348941{url:5}"),
    // ---- Slack ----
    d("slack-bot-token", "slack", Critical, "Slack bot token",
        &["xoxb-"], token!(r#"xoxb-[0-9]{10,13}-[0-9]{10,13}-[A-Za-z0-9]{24}"#),
        "SLACK_BOT_TOKEN=xoxb-{dig:12}-{dig:13}-{an:24}", "SLACK_BOT_TOKEN=xoxb-{dig:12}-{an:8}"),
    d("slack-user-token", "slack", Critical, "Slack user token",
        &["xoxp-", "xoxe-"], token!(r#"xox[pe]-[0-9]{10,13}-[0-9]{10,13}-[0-9]{10,13}-[a-f0-9]{32}"#),
        "SLACK_TOKEN=xoxp-{dig:12}-{dig:12}-{dig:13}-{hex:32}", "SLACK_TOKEN=xoxp-{dig:12}-{hex:32}"),
    d("slack-app-token", "slack", High, "Slack app-level token",
        &["xapp-"], token!(r#"xapp-[0-9]-[A-Z0-9]{9,11}-[0-9]{10,13}-[a-f0-9]{64}"#),
        "SLACK_APP_TOKEN=xapp-1-{up:11}-{dig:13}-{hex:64}", "SLACK_APP_TOKEN=xapp-1-{up:11}"),
    d("slack-config-token", "slack", High, "Slack configuration token",
        &["xoxe.xox"], token!(r#"xoxe\.xox[bp]-[0-9]-[A-Za-z0-9]{163,166}"#),
        "config=xoxe.xoxp-1-{an:164}", "config=xoxe.xoxp-1-{an:30}"),
    d("slack-config-refresh-token", "slack", High, "Slack configuration refresh token",
        &["xoxe-"], token!(r#"xoxe-[0-9]-[A-Za-z0-9]{146}"#),
        "refresh=xoxe-1-{an:146}", "refresh=xoxe-1-{an:40}"),
    d("slack-legacy-token", "slack", High, "Slack legacy or workspace token",
        &["xoxa-", "xoxr-", "xoxs-", "xoxo-"], token!(r#"xox[aros]-(?:[0-9]+-)+[0-9a-zA-Z]{24,48}"#),
        "legacy=xoxs-{dig:11}-{dig:11}-{an:32}", "legacy=xoxs-{an:8}"),
    d("slack-webhook-url", "slack", High, "Slack incoming webhook URL",
        &["hooks.slack.com"],
        r#"https://hooks\.slack\.com/(?:services|workflows|triggers)/(?P<s>T[A-Z0-9]{8,12}/[A-Z0-9]{8,12}/[A-Za-z0-9]{20,})"#,
        "url: https://hooks.slack.com/services/T{up:10}/B{up:10}/{an:24}",
        "url: https://hooks.slack.com/services/T.../B.../..."),
    // ---- Stripe ----
    d("stripe-secret-key", "stripe", Critical, "Stripe live secret key",
        &["sk_live_"], token!(r#"sk_live_[A-Za-z0-9]{24,99}"#),
        "STRIPE_KEY=sk_live_{an:99}", "STRIPE_KEY=sk_live_{an:10}"),
    d("stripe-restricted-key", "stripe", High, "Stripe live restricted key",
        &["rk_live_"], token!(r#"rk_live_[A-Za-z0-9]{24,99}"#),
        "STRIPE_KEY=rk_live_{an:99}", "STRIPE_KEY=rk_live_{an:10}"),
    d("stripe-webhook-secret", "stripe", High, "Stripe webhook signing secret",
        &["whsec_"], token!(r#"whsec_[A-Za-z0-9]{32,}"#),
        "STRIPE_WEBHOOK_SECRET=whsec_{an:32}", "STRIPE_WEBHOOK_SECRET=whsec_{an:12}"),
    // ---- Package registries ----
    d("npm-access-token", "npm", Critical, "npm access token",
        &["npm_"], token!(r#"npm_[A-Za-z0-9]{36}"#),
        "NPM_TOKEN=npm_{an:36}", "NPM_TOKEN=npm_{an:16}"),
    d("npmrc-auth-token", "npm", High, "Registry auth token in .npmrc",
        &["_authtoken"],
        r#"(?i)//[^\s]+/:_authToken[ \t]*=[ \t]*(?P<s>[^\s$"'{}]{20,})"#,
        "//registry.kw.test/:_authToken={an:40}", "//registry.kw.test/:_authToken=${NPM_TOKEN}"),
    d("pypi-token", "pypi", Critical, "PyPI upload token",
        &["pypi-ageichlwas5vcmc"], token!(r#"pypi-AgEIcHlwaS5vcmc[A-Za-z0-9_-]{50,}"#),
        "password = pypi-AgEIcHlwaS5vcmc{url:70}", "password = pypi-AgEIcHlwaS5vcmc{url:10}"),
    d("pypi-test-token", "pypi", Medium, "TestPyPI upload token",
        &["pypi-agendgvzdc5wexbplm9yzw"], token!(r#"pypi-AgENdGVzdC5weXBpLm9yZw[A-Za-z0-9_-]{50,}"#),
        "password = pypi-AgENdGVzdC5weXBpLm9yZw{url:70}", "password = pypi-AgENdGVzdC5weXBpLm9yZw{url:10}"),
    d("rubygems-api-key", "packages", High, "RubyGems API key",
        &["rubygems_"], token!(r#"rubygems_[a-f0-9]{48}"#),
        ":rubygems_api_key: rubygems_{hex:48}", ":rubygems_api_key: rubygems_{hex:8}"),
    d("nuget-api-key", "packages", High, "NuGet API key",
        &["oy2"], token!(r#"oy2[a-z0-9]{43}"#),
        "NUGET_KEY=oy2{lo:43}", "NUGET_KEY=oy2{lo:13}"),
    d("clojars-token", "packages", High, "Clojars deploy token",
        &["clojars_"], token!(r#"CLOJARS_[a-z0-9]{60}"#),
        "CLOJARS_PASSWORD=CLOJARS_{lo:60}", "CLOJARS_PASSWORD=CLOJARS_{lo:6}"),
    d("docker-hub-pat", "packages", High, "Docker Hub personal access token",
        &["dckr_pat_"], token!(r#"dckr_pat_[A-Za-z0-9_-]{27}"#),
        "DOCKER_PASSWORD=dckr_pat_{url:27}", "DOCKER_PASSWORD=dckr_pat_{url:7}"),
    d("jfrog-api-key", "packages", High, "JFrog Artifactory API key",
        &["akcp"], token!(r#"AKCp[A-Za-z0-9]{69}"#),
        "ARTIFACTORY_API_KEY=AKCp{an:69}", "ARTIFACTORY_API_KEY=AKCp{an:9}"),
    // ---- Private keys ----
    d("pem-private-key", "private-key", Critical, "PEM private key",
        &["private key-----"],
        r#"-----BEGIN (?:RSA |EC |DSA |ENCRYPTED |(?:ENCRYPTED )?SIGSTORE |ED25519 )?PRIVATE KEY-----[ \t]*(?:\\r)?(?:\\n|\r?\n)(?:(?:Proc-Type|DEK-Info): [^\n\\]*(?:\\r)?(?:\\n|\r?\n))*(?:\\r)?(?:\\n|\r?\n)?(?P<s>(?:[A-Za-z0-9+/=:, \t-]|\\r|\\n|\r|\n){64,}?)(?:\\r)?(?:\\n|\r?\n)?-----END"#,
        "-----BEGIN RSA PRIVATE KEY-----\n{b64:64}\n{b64:64}\n-----END RSA PRIVATE KEY-----",
        "-----BEGIN PUBLIC KEY-----\n{b64:64}\n-----END PUBLIC KEY-----"),
    d("openssh-private-key", "private-key", Critical, "OpenSSH private key",
        &["begin openssh private key"],
        r#"-----BEGIN OPENSSH PRIVATE KEY-----(?:\\n|\r?\n)(?P<s>(?:[A-Za-z0-9+/= \t]|\\n|\r|\n){64,}?)(?:\\n|\r?\n)?-----END"#,
        "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjE{b64:45}\n{b64:70}\n-----END OPENSSH PRIVATE KEY-----",
        "ssh-ed25519 {b64:68} user@host"),
    d("pgp-private-key", "private-key", Critical, "PGP private key block",
        &["begin pgp private key block"],
        r#"-----BEGIN PGP PRIVATE KEY BLOCK-----(?:\\n|\r?\n)(?:[A-Za-z]+: [^\n]*\n)*(?:\\n|\r?\n)?(?P<s>(?:[A-Za-z0-9+/= \t]|\\n|\r|\n){64,}?)-----END"#,
        "-----BEGIN PGP PRIVATE KEY BLOCK-----\n\n{b64:64}\n{b64:64}\n-----END PGP PRIVATE KEY BLOCK-----",
        "-----BEGIN PGP PUBLIC KEY BLOCK-----\n\n{b64:64}\n-----END PGP PUBLIC KEY BLOCK-----"),
    d("putty-private-key", "private-key", Critical, "PuTTY private key",
        &["private-lines:"],
        r#"Private-Lines: \d+\r?\n(?P<s>[A-Za-z0-9+/=]{40,})"#,
        "PuTTY-User-Key-File-3: ssh-ed25519\nPrivate-Lines: 1\n{b64:44}\n", "PuTTY-User-Key-File-3: ssh-ed25519\nPublic-Lines: 2\n"),
    d("age-secret-key", "private-key", Critical, "age secret key",
        &["age-secret-key-1"],
        token!(r#"AGE-SECRET-KEY-1[QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L]{58}"#),
        "AGE-SECRET-KEY-1{bech:58}", "AGE-SECRET-KEY-1{bech:20}"),
    // ---- Tokens with structure ----
    d("jwt", "jwt", High, "JSON Web Token",
        &["eyj"],
        r#"(?:^|[^A-Za-z0-9_.-])(?P<s>eyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{16,})"#,
        "token: eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJ{url:40}.{url:43}",
        "token: eyJ{url:30}.eyJ{url:40}.{url:43}")
        .check(Check::Jwt),
    // ---- Database and service URLs ----
    d("postgres-url-password", "database", Critical, "PostgreSQL URL with a password",
        &["postgres"],
        r#"(?i)(?-u:\b)postgres(?:ql)?://[^:/\s"'@]+:(?P<s>[^@/\s"']{3,})@[^\s"'/]+"#,
        "DATABASE_URL=postgres://app:{an:18}@db.kw.test:5432/app", "DATABASE_URL=postgres://app:${DB_PASSWORD}@db:5432/app")
        .entropy(2.5).check(Check::Password),
    d("mysql-url-password", "database", Critical, "MySQL URL with a password",
        &["mysql"],
        r#"(?i)(?-u:\b)mysqlx?(?:\+[a-z]+)?://[^:/\s"'@]+:(?P<s>[^@/\s"']{3,})@[^\s"'/]+"#,
        "url: mysql://app:{an:18}@db.kw.test/app", "url: mysql://app@db.kw.test/app")
        .entropy(2.5).check(Check::Password),
    d("mongodb-url-password", "database", Critical, "MongoDB URL with a password",
        &["mongodb"],
        r#"(?i)(?-u:\b)mongodb(?:\+srv)?://[^:/\s"'@]+:(?P<s>[^@/\s"']{3,})@[^\s"'/]+"#,
        "MONGO_URI=mongodb+srv://app:{an:18}@cluster0.kw.test/db", "MONGO_URI=mongodb+srv://app:<password>@cluster0.kw.test/db")
        .entropy(2.5).check(Check::Password),
    d("redis-url-password", "database", High, "Redis URL with a password",
        &["redis"],
        r#"(?i)(?-u:\b)rediss?://[^:/\s"'@]*:(?P<s>[^@/\s"']{3,})@[^\s"'/]+"#,
        "REDIS_URL=redis://:{an:24}@cache.kw.test:6379/0", "REDIS_URL=redis://cache.kw.test:6379/0")
        .entropy(2.5).check(Check::Password),
    d("amqp-url-password", "database", High, "AMQP (RabbitMQ) URL with a password",
        &["amqp"],
        r#"(?i)(?-u:\b)amqps?://[^:/\s"'@]+:(?P<s>[^@/\s"']{3,})@[^\s"'/]+"#,
        "BROKER=amqp://app:{an:18}@mq.kw.test:5672/", "BROKER=amqp://guest:guest@localhost:5672/")
        .entropy(2.5).check(Check::Password),
    d("jdbc-password", "database", Critical, "JDBC URL with a password",
        &["jdbc:"],
        r#"(?i)(?-u:\b)jdbc:[a-z0-9]+:[^\s"']*?[;?&]password=(?P<s>[^&;\s"']{4,})"#,
        "jdbc:postgresql://db.kw.test/app?user=app&password={an:16}", "jdbc:postgresql://db.kw.test/app?user=app")
        .entropy(2.5).check(Check::Password),
    d("connection-string-password", "database", Critical, "ADO.NET / ODBC connection string with a password",
        &["password=", "pwd="],
        r#"(?i)(?:server|data source|host)[ \t]*=[^;\n"']+;[^\n"]*?(?:password|pwd)[ \t]*=[ \t]*(?P<s>[^;"'\s]{4,})"#,
        "Server=db.kw.test;Database=app;User Id=app;Password={an:16};", "Server=db.kw.test;Database=app;Integrated Security=true;")
        .entropy(2.5).check(Check::Password),
    d("url-basic-credentials", "database", High, "Credentials embedded in an http/ftp/ldap URL",
        &["://"],
        r#"(?i)(?-u:\b)(?:https?|ftps?|sftp|ldaps?|smtps?|git)://[^:/\s"'@]+:(?P<s>[^@/\s"']{6,})@[A-Za-z0-9.-]+"#,
        "https://deploy:{an:20}@git.kw.test/repo.git", "https://deploy@git.kw.test/repo.git")
        .entropy(3.0).check(Check::Password),
    // ---- HTTP auth ----
    d("authorization-bearer", "generic", High, "Bearer token in an Authorization header",
        &["bearer"],
        r#"(?i)authorization["']?[ \t]*[:=][ \t]*["']?bearer[ \t]+(?P<s>[A-Za-z0-9._~+/-]{20,}=*)"#,
        "Authorization: Bearer {an:40}", "Authorization: Bearer ${TOKEN}")
        .entropy(3.5).check(Check::Password),
    d("authorization-basic", "generic", High, "Basic credentials in an Authorization header",
        &["basic"],
        r#"(?i)authorization["']?[ \t]*[:=][ \t]*["']?basic[ \t]+(?P<s>[A-Za-z0-9+/]{12,}={0,2})"#,
        "Authorization: Basic {basic}", "Authorization: Basic {b64:24}")
        .check(Check::BasicAuth),
    d("htpasswd-bcrypt", "generic", Medium, "bcrypt password hash (htpasswd)",
        &["$2"],
        r#"(?m)^[A-Za-z0-9_.-]+:(?P<s>\$2[aby]\$[0-9]{2}\$[./A-Za-z0-9]{53})$"#,
        "admin:$2y$10${bcrypt:53}", "admin:$2y$10$short"),
    // ---- Other SaaS ----
    d("sendgrid-api-key", "saas", High, "SendGrid API key",
        &["sg."], token!(r#"SG\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}"#),
        "SENDGRID_API_KEY=SG.{url:22}.{url:43}", "SENDGRID_API_KEY=SG.{url:22}"),
    d("twilio-api-key", "saas", High, "Twilio API key",
        &["twilio"], assign!(r#"[\w.-]*twilio[\w.-]*"#, r#"SK[0-9a-f]{32}"#),
        "TWILIO_API_KEY=SK{hex:32}", "TWILIO_API_KEY=SK{hex:12}"),
    d("mailgun-api-key", "saas", High, "Mailgun API key",
        &["mailgun"], assign!(r#"[\w.-]*mailgun[\w.-]*"#, r#"key-[0-9a-f]{32}|[0-9a-f]{32}-[0-9a-f]{8}-[0-9a-f]{8}"#),
        "MAILGUN_API_KEY=key-{hex:32}", "MAILGUN_API_KEY=key-{hex:8}"),
    d("mailchimp-api-key", "saas", High, "Mailchimp API key",
        &["-us"], token!(r#"[0-9a-f]{32}-us[0-9]{1,2}"#),
        "MAILCHIMP_KEY={hex:32}-us14", "MAILCHIMP_KEY={hex:12}-us14"),
    d("shopify-access-token", "saas", High, "Shopify access token",
        &["shpat_", "shpca_", "shppa_", "shpss_"], token!(r#"shp(?:at|ca|pa|ss)_[a-fA-F0-9]{32}"#),
        "SHOPIFY_TOKEN=shpat_{hex:32}", "SHOPIFY_TOKEN=shpat_{hex:10}"),
    d("digitalocean-token", "saas", High, "DigitalOcean token",
        &["dop_v1_", "doo_v1_", "dor_v1_"], token!(r#"do[opr]_v1_[a-f0-9]{64}"#),
        "DO_TOKEN=dop_v1_{hex:64}", "DO_TOKEN=dop_v1_{hex:14}"),
    d("vault-service-token", "saas", Critical, "HashiCorp Vault / OpenBao service token",
        &["hvs."], token!(r#"hvs\.[A-Za-z0-9_-]{90,}"#),
        "VAULT_TOKEN=hvs.{url:95}", "VAULT_TOKEN=hvs.{url:20}"),
    d("vault-service-token-legacy", "saas", Critical, "HashiCorp Vault service token, pre-1.10 `s.` form",
        &["vault", "token"],
        // `s.` plus 24 characters is also a Go receiver and a field (`s.AcceptanceTimeout`):
        // a Vault or token key must be assigned it, and the generic gates drop identifiers.
        r#"(?i)(?:^|[^A-Za-z0-9_.-])(?P<k>[A-Za-z0-9_.-]*(?:vault|token)[A-Za-z0-9_.-]*)["']?[ \t]*(?::=|=>|=|:)[ \t]*["']?(?P<s>s\.[A-Za-z0-9]{24})(?:$|[^A-Za-z0-9+/=_.-])"#,
        "VAULT_TOKEN=s.{an:9}7{an:5}4Q{an:6}9", "token: s.AcceptanceTimeoutSeconds")
        .entropy(3.5).check(Check::Generic),
    d("vault-batch-token", "saas", High, "HashiCorp Vault / OpenBao batch token",
        &["hvb."], token!(r#"hvb\.[A-Za-z0-9_-]{130,}"#),
        "VAULT_TOKEN=hvb.{url:140}", "VAULT_TOKEN=hvb.{url:20}"),
    d("terraform-cloud-token", "saas", High, "Terraform Cloud / Enterprise API token",
        &["atlasv1"], token!(r#"[A-Za-z0-9]{14}\.atlasv1\.[A-Za-z0-9_=-]{60,70}"#),
        "token = \"{an:14}.atlasv1.{url:67}\"", "token = \"{an:14}.atlasv1.{url:7}\""),
    d("doppler-token", "saas", High, "Doppler token",
        &["dp.pt.", "dp.st.", "dp.sa."], token!(r#"dp\.(?:pt|st|sa|ct)\.[A-Za-z0-9]{40,44}"#),
        "DOPPLER_TOKEN=dp.pt.{an:43}", "DOPPLER_TOKEN=dp.pt.{an:13}"),
    d("pulumi-access-token", "saas", High, "Pulumi access token",
        &["pul-"], token!(r#"pul-[a-f0-9]{40}"#),
        "PULUMI_ACCESS_TOKEN=pul-{hex:40}", "PULUMI_ACCESS_TOKEN=pul-{hex:10}"),
    d("databricks-token", "saas", High, "Databricks personal access token",
        &["dapi"], token!(r#"dapi[a-f0-9]{32}(?:-[0-9])?"#),
        "DATABRICKS_TOKEN=dapi{hex:32}", "DATABRICKS_TOKEN=dapi{hex:12}"),
    d("openai-api-key", "saas", Critical, "OpenAI API key",
        &["t3blbkfj"], token!(r#"sk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20,}T3BlbkFJ[A-Za-z0-9_-]{20,}"#),
        "OPENAI_API_KEY=sk-proj-{url:40}T3BlbkFJ{url:40}", "OPENAI_API_KEY=sk-proj-{url:10}"),
    d("anthropic-api-key", "saas", Critical, "Anthropic API key",
        &["sk-ant-"], token!(r#"sk-ant-(?:api03|admin01)-[A-Za-z0-9_-]{93}AA"#),
        "ANTHROPIC_API_KEY=sk-ant-api03-{url:93}AA", "ANTHROPIC_API_KEY=sk-ant-api03-{url:13}"),
    d("huggingface-token", "saas", High, "Hugging Face access token",
        &["hf_"], token!(r#"hf_[A-Za-z]{34}"#),
        "HF_TOKEN=hf_{al:34}", "HF_TOKEN=hf_{al:14}"),
    d("atlassian-api-token", "saas", High, "Atlassian API token",
        &["atatt3"], token!(r#"ATATT3[A-Za-z0-9_=-]{186}"#),
        "JIRA_TOKEN=ATATT3{url:186}", "JIRA_TOKEN=ATATT3{url:16}"),
    d("atlassian-api-token-legacy", "saas", High, "Atlassian (Jira, Confluence) legacy API token",
        &["atlassian", "confluence", "jira"],
        assign!(r#"[\w.-]*(?:atlassian|confluence|jira)[\w.-]*"#, r#"[A-Za-z0-9]{24}"#),
        "atlassian_api_token = \"{an:24}\"", "atlassian_api_token = \"{an:12}\""),
    d("clickhouse-cloud-secret-key", "saas", High, "ClickHouse Cloud API secret key",
        &["4b1d"], token!(r#"4b1d[A-Za-z0-9]{38}"#),
        "CLICKHOUSE_KEY_SECRET=4b1d{an:38}", "CLICKHOUSE_KEY_SECRET=4b1d{an:12}"),
    d("meraki-api-key", "saas", High, "Cisco Meraki API key",
        &["meraki"], assign!(r#"[\w.-]*meraki[\w.-]*"#, r#"[0-9a-fA-F]{40}"#),
        "MERAKI_API_KEY={hex:40}", "MERAKI_API_KEY={hex:20}"),
    d("mongodb-atlas-private-key", "database", Critical, "MongoDB Atlas API private key",
        &["atlas"],
        assign!(r#"[\w.-]*atlas[\w.-]*private[\w.-]*key"#, r#"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"#),
        "ATLAS_PRIVATE_KEY=\"{hex:8}-{hex:4}-{hex:4}-{hex:4}-{hex:12}\"", "ATLAS_PUBLIC_KEY=\"{hex:8}\""),
    d("linear-api-key", "saas", High, "Linear API key",
        &["lin_api_"], token!(r#"lin_api_[A-Za-z0-9]{40}"#),
        "LINEAR_KEY=lin_api_{an:40}", "LINEAR_KEY=lin_api_{an:10}"),
    d("newrelic-user-api-key", "saas", High, "New Relic user API key",
        &["nrak-"], token!(r#"NRAK-[A-Z0-9]{27}"#),
        "NEW_RELIC_API_KEY=NRAK-{up:27}", "NEW_RELIC_API_KEY=NRAK-{up:7}"),
    d("datadog-api-key", "saas", High, "Datadog API or application key",
        &["datadog", "dd_api", "dd_app", "dd-api", "dd-app"],
        assign!(r#"[\w.-]*(?:datadog|dd)[_-]?(?:api|app|application)[_-]?key"#, r#"[a-f0-9]{32}|[a-f0-9]{40}"#),
        "DD_API_KEY={hex:32}", "DD_API_KEY={hex:12}"),
    d("sentry-auth-token", "saas", High, "Sentry auth token",
        &["sntrys_", "sntryu_"], token!(r#"sntrys_[A-Za-z0-9+/=_]{60,}|sntryu_[a-f0-9]{64}"#),
        "SENTRY_AUTH_TOKEN=sntryu_{hex:64}", "SENTRY_AUTH_TOKEN=sntryu_{hex:14}"),
    d("grafana-cloud-token", "saas", High, "Grafana Cloud API token",
        &["glc_"], token!(r#"glc_[A-Za-z0-9+/]{32,400}={0,2}"#),
        "GRAFANA_TOKEN=glc_{b64:80}", "GRAFANA_TOKEN=glc_{b64:12}"),
    d("grafana-service-account-token", "saas", High, "Grafana service account token",
        &["glsa_"], token!(r#"glsa_[A-Za-z0-9]{32}_[A-Fa-f0-9]{8}"#),
        "GRAFANA_SA=glsa_{an:32}_{hex:8}", "GRAFANA_SA=glsa_{an:12}"),
    d("cloudflare-origin-ca-key", "saas", High, "Cloudflare origin CA key",
        &["v1.0-"], token!(r#"v1\.0-[a-f0-9]{24}-[a-f0-9]{146}"#),
        "CF_ORIGIN_CA_KEY=v1.0-{hex:24}-{hex:146}", "CF_ORIGIN_CA_KEY=v1.0-{hex:24}"),
    d("cloudflare-api-token", "saas", High, "Cloudflare API token",
        &["cloudflare", "cf_api"],
        assign!(r#"[\w.-]*(?:cloudflare|cf)[_-]api[_-]?(?:token|key)"#, r#"[A-Za-z0-9_-]{40}"#),
        "CLOUDFLARE_API_TOKEN={url:40}", "CLOUDFLARE_API_TOKEN={url:10}"),
    d("heroku-api-key", "saas", High, "Heroku API key",
        &["hrku-"], token!(r#"HRKU-AA[0-9a-zA-Z_-]{58}"#),
        "HEROKU_API_KEY=HRKU-AA{url:58}", "HEROKU_API_KEY=HRKU-AA{url:8}"),
    d("square-access-token", "saas", High, "Square access token or OAuth secret",
        &["eaaa", "sq0csp-", "sq0atp-"], token!(r#"EAAA[A-Za-z0-9_-]{60}|sq0(?:csp|atp)-[0-9A-Za-z_-]{22,43}"#),
        "SQUARE_TOKEN=EAAA{url:60}", "SQUARE_TOKEN=EAAA{url:10}"),
    d("telegram-bot-token", "saas", High, "Telegram bot token",
        &[":aa"], r#"(?:^|[^0-9])(?P<s>[0-9]{8,10}:AA[0-9A-Za-z_-]{33})(?:$|[^0-9A-Za-z_-])"#,
        "TELEGRAM_TOKEN={dig:10}:AA{url:33}", "TELEGRAM_TOKEN={dig:10}:AA{url:13}"),
    d("discord-webhook-url", "saas", High, "Discord webhook URL",
        &["discord"], r#"https://(?:ptb\.|canary\.)?discord(?:app)?\.com/api/webhooks/[0-9]+/(?P<s>[A-Za-z0-9_-]{60,68})"#,
        "https://discord.com/api/webhooks/{dig:18}/{url:68}", "https://discord.com/api/webhooks/{dig:18}/"),
    d("teams-webhook-url", "saas", Medium, "Microsoft Teams incoming webhook URL",
        &["webhook.office.com"],
        r#"https://[a-z0-9-]+\.webhook\.office\.com/webhookb2/[^\s"']+/IncomingWebhook/(?P<s>[a-f0-9]{32})/"#,
        "https://kw.webhook.office.com/webhookb2/{hex:8}-{hex:4}@{hex:8}/IncomingWebhook/{hex:32}/{hex:8}",
        "https://kw.webhook.office.com/webhookb2/"),
    d("postman-api-key", "saas", High, "Postman API key",
        &["pmak-"], token!(r#"PMAK-[a-f0-9]{24}-[a-f0-9]{34}"#),
        "POSTMAN_API_KEY=PMAK-{hex:24}-{hex:34}", "POSTMAN_API_KEY=PMAK-{hex:24}"),
    d("okta-api-token", "saas", High, "Okta API token",
        &["okta"], assign!(r#"[\w.-]*okta[\w.-]*(?:token|key)"#, r#"00[A-Za-z0-9_-]{40}"#),
        "OKTA_API_TOKEN=00{url:40}", "OKTA_API_TOKEN=00{url:10}"),
    d("alibaba-access-key-id", "saas", High, "Alibaba Cloud access key ID",
        &["ltai"], token!(r#"LTAI[A-Za-z0-9]{20}"#),
        "ALIBABA_ACCESS_KEY=LTAI{an:20}", "ALIBABA_ACCESS_KEY=LTAI{an:8}"),
    d("dynatrace-api-token", "saas", High, "Dynatrace API token",
        &["dt0c01."], token!(r#"dt0c01\.[A-Z0-9]{24}\.[A-Z0-9]{64}"#),
        "DT_TOKEN=dt0c01.{up:24}.{up:64}", "DT_TOKEN=dt0c01.{up:24}"),
    d("flyio-token", "saas", High, "Fly.io access token",
        &["fo1_"], token!(r#"fo1_[A-Za-z0-9_-]{43}"#),
        "FLY_API_TOKEN=fo1_{url:43}", "FLY_API_TOKEN=fo1_{url:13}"),
    d("flyio-macaroon-token", "saas", High, "Fly.io macaroon access token (fm1a_/fm1r_/fm2_)",
        &["fm1a_", "fm1r_", "fm2_"],
        // No trailing boundary to consume: `flyctl tokens create` joins tokens with commas,
        // and the comma must stay free to start the next one. `{100,}` is greedy, so a match
        // still ends where the token does.
        r#"(?:^|[^A-Za-z0-9_-])(?P<s>(?:fm1[ar]|fm2)_[A-Za-z0-9+/]{100,}={0,3})"#,
        "FLY_API_TOKEN=\"FlyV1 fm2_lJPECAAAAAAAAMqcxBB{b64:120}=,fm1a_{b64:130}\"", "FLY_API_TOKEN=fm2_{b64:40}"),
    d("planetscale-token", "saas", High, "PlanetScale service token or password",
        &["pscale_"], token!(r#"pscale_(?:tkn|pw|oauth)_[A-Za-z0-9_.-]{32,64}"#),
        "PLANETSCALE_TOKEN=pscale_tkn_{url:43}", "PLANETSCALE_TOKEN=pscale_tkn_{url:13}"),
    d("supabase-token", "saas", High, "Supabase access token",
        &["sbp_"], token!(r#"sbp_[a-f0-9]{40}"#),
        "SUPABASE_ACCESS_TOKEN=sbp_{hex:40}", "SUPABASE_ACCESS_TOKEN=sbp_{hex:10}"),
    d("sonarqube-token", "saas", Medium, "SonarQube token",
        &["squ_", "sqp_", "sqa_"], token!(r#"sq[upa]_[a-f0-9]{40}"#),
        "SONAR_TOKEN=squ_{hex:40}", "SONAR_TOKEN=squ_{hex:10}"),
    d("airtable-pat", "saas", High, "Airtable personal access token",
        &["pat"], token!(r#"pat[A-Za-z0-9]{14}\.[a-f0-9]{64}"#),
        "AIRTABLE_TOKEN=pat{an:14}.{hex:64}", "AIRTABLE_TOKEN=pat{an:14}"),
    d("notion-token", "saas", High, "Notion integration token",
        &["ntn_"], token!(r#"ntn_[0-9]{11}[A-Za-z0-9]{35}"#),
        "NOTION_TOKEN=ntn_{dig:11}{an:35}", "NOTION_TOKEN=ntn_{dig:11}"),
    d("mapbox-secret-token", "saas", High, "Mapbox secret token",
        &["sk.eyj"], token!(r#"sk\.eyJ[A-Za-z0-9_-]{50,}\.[A-Za-z0-9_-]{20,}"#),
        "MAPBOX_TOKEN=sk.eyJ{url:60}.{url:22}", "MAPBOX_TOKEN=pk.eyJ{url:60}.{url:22}"),
    d("figma-pat", "saas", Medium, "Figma personal access token",
        &["figd_"], token!(r#"figd_[A-Za-z0-9_-]{40}"#),
        "FIGMA_TOKEN=figd_{url:40}", "FIGMA_TOKEN=figd_{url:10}"),
    d("prefect-api-key", "saas", High, "Prefect API key",
        &["pnu_"], token!(r#"pnu_[A-Za-z0-9]{36}"#),
        "PREFECT_API_KEY=pnu_{an:36}", "PREFECT_API_KEY=pnu_{an:6}"),
    d("onepassword-service-account-token", "saas", Critical, "1Password service account token",
        &["ops_eyj"], token!(r#"ops_eyJ[A-Za-z0-9+/]{250,}={0,3}"#),
        "OP_SERVICE_ACCOUNT_TOKEN=ops_eyJ{b64:260}", "OP_SERVICE_ACCOUNT_TOKEN=ops_eyJ{b64:20}"),
    d("buildkite-token", "saas", High, "Buildkite API access token",
        &["bkua_"], token!(r#"bkua_[a-f0-9]{40}"#),
        "BUILDKITE_TOKEN=bkua_{hex:40}", "BUILDKITE_TOKEN=bkua_{hex:10}"),
    d("tailscale-key", "saas", High, "Tailscale auth or API key",
        &["tskey-"], token!(r#"tskey-(?:auth|api|client|scim|webhook)-[A-Za-z0-9]{10,}-[A-Za-z0-9]{20,}"#),
        "TS_AUTHKEY=tskey-auth-{an:12}-{an:30}", "TS_AUTHKEY=tskey-auth-{an:12}"),
    d("shippo-api-token", "saas", Medium, "Shippo live API token",
        &["shippo_live_"], token!(r#"shippo_live_[a-f0-9]{40}"#),
        "SHIPPO_TOKEN=shippo_live_{hex:40}", "SHIPPO_TOKEN=shippo_live_{hex:10}"),
    d("easypost-api-key", "saas", Medium, "EasyPost API key",
        &["ezak"], token!(r#"EZAK[A-Za-z0-9]{54}"#),
        "EASYPOST_KEY=EZAK{an:54}", "EASYPOST_KEY=EZAK{an:14}"),
    d("readme-api-key", "saas", Medium, "ReadMe API key",
        &["rdme_"], token!(r#"rdme_[a-z0-9]{70}"#),
        "README_KEY=rdme_{lo:70}", "README_KEY=rdme_{lo:10}"),
    d("infracost-api-key", "saas", Medium, "Infracost API key",
        &["ico-"], token!(r#"ico-[A-Za-z0-9]{32}"#),
        "INFRACOST_API_KEY=ico-{an:32}", "INFRACOST_API_KEY=ico-{an:12}"),
    d("facebook-access-token", "saas", High, "Facebook access token",
        &["eaacedeose0cba"], token!(r#"EAACEdEose0cBA[0-9A-Za-z]{20,}"#),
        "FB_TOKEN=EAACEdEose0cBA{an:40}", "FB_TOKEN=EAACEdEose0cBA{an:5}"),
    d("snyk-api-token", "saas", High, "Snyk API token",
        &["snyk"], assign!(r#"[\w.-]*snyk[\w.-]*(?:token|key)"#, r#"[a-f0-9]{8}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{12}"#),
        "SNYK_TOKEN={hex:8}-{hex:4}-{hex:4}-{hex:4}-{hex:12}", "SNYK_TOKEN={hex:8}"),
    d("sourcegraph-access-token", "saas", High, "Sourcegraph access token",
        &["sgp_"], token!(r#"sgp_(?:[a-fA-F0-9]{16}_|local_)?[a-fA-F0-9]{40}"#),
        "SRC_ACCESS_TOKEN=sgp_{hex:16}_{hex:40}", "SRC_ACCESS_TOKEN=sgp_{hex:16}"),
    d("perplexity-api-key", "saas", High, "Perplexity API key",
        &["pplx-"], token!(r#"pplx-[A-Za-z0-9]{48}"#),
        "PPLX_API_KEY=pplx-{an:48}", "PPLX_API_KEY=pplx-{an:18}"),
    d("sidekiq-secret", "saas", High, "Sidekiq Pro/Enterprise gem server credentials",
        &["contribsys__com"],
        assign!(r#"BUNDLE_(?:ENTERPRISE|GEMS)__CONTRIBSYS__COM"#, r#"[a-f0-9]{8}:[a-f0-9]{8}"#),
        "BUNDLE_GEMS__CONTRIBSYS__COM={hex:8}:{hex:8}", "BUNDLE_GEMS__CONTRIBSYS__COM=${SIDEKIQ_CREDS}"),
    d("sidekiq-sensitive-url", "saas", High, "Sidekiq gem server URL with credentials",
        &["contribsys.com"],
        r#"(?i)https?://(?P<s>[a-f0-9]{8}:[a-f0-9]{8})@(?:gems|enterprise)\.contribsys\.com"#,
        "source \"https://{hex:8}:{hex:8}@gems.contribsys.com/\"", "source \"https://gems.contribsys.com/\""),
    d("onepassword-secret-key", "saas", Critical, "1Password account secret key",
        &["a3-"],
        token!(r#"A3-[A-Z0-9]{6}-(?:[A-Z0-9]{11}|[A-Z0-9]{6}-[A-Z0-9]{5})-[A-Z0-9]{5}-[A-Z0-9]{5}-[A-Z0-9]{5}"#),
        "OP_SECRET_KEY=A3-{up:6}-{up:11}-{up:5}-{up:5}-{up:5}", "OP_SECRET_KEY=A3-{up:6}-{up:5}"),
    d("curl-user-credentials", "generic", High, "Credentials passed to curl with -u / --user",
        &["curl"],
        r#"(?i)(?-u:\b)curl(?-u:\b)[^\n]*?[ \t](?:-u|--user)[ =]?["']?[^:\s"']+:(?P<s>[^\s"'@]{6,})"#,
        "curl -u deploy:{an:16} https://api.kw.test/v1", "curl -u \"$USER:$TOKEN\" https://api.kw.test/v1")
        .check(Check::Password),
    d("kubeconfig-client-key", "kubernetes", Critical, "Client key embedded in a kubeconfig",
        &["client-key-data"], r#"client-key-data:[ \t]*(?P<s>[A-Za-z0-9+/=]{100,})"#,
        "    client-key-data: {b64:120}", "    client-key: /etc/kubernetes/pki/admin.key"),
    // ---- Generic, gated by context and entropy ----
    d("generic-secret-assignment", "generic", Medium, "Password, secret or token assigned a literal value",
        &["pass", "pwd", "secret", "token", "key", "credential"],
        r#"(?i)(?:^|[^A-Za-z0-9_.-])(?P<k>[A-Za-z0-9_.-]*(?:password|passwd|passphrase|pwd|secret|token|api[_.-]?key|apikey|access[_.-]?key|auth[_.-]?key|private[_.-]?key|client[_.-]?secret|licen[cs]e[_.-]?key|credentials?)[A-Za-z0-9_.-]*)["']?[ \t]*(?::=|=>|=|:)[ \t]*["']?(?P<s>[^\s"'`,;\\]{8,128})(?:$|[\s"'`,;\\])"#,
        "db_password = \"{an:14}!\"", "db_password = \"${DB_PASSWORD}\"")
        .entropy(3.0).check(Check::Generic),
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::fingerprint::FingerprintKey;
    use crate::scanner::Scanner;
    use crate::synth::expand;

    fn scanner() -> Scanner {
        Scanner::new(
            Config::default(),
            FingerprintKey::from_bytes(b"catalog-test-key"),
        )
        .expect("scanner")
    }

    fn rules_found(scanner: &Scanner, text: &str) -> Vec<String> {
        // A neutral file name, so no file-name policy adds findings.
        scanner
            .scan("fixture.txt", text.as_bytes())
            .into_iter()
            .map(|f| f.rule)
            .collect()
    }

    #[test]
    fn at_least_one_hundred_detectors() {
        assert!(DETECTORS.len() >= 100, "{} detectors", DETECTORS.len());
    }

    #[test]
    fn every_example_is_found_by_its_detector() {
        let scanner = scanner();
        let mut missed = Vec::new();
        for spec in DETECTORS {
            let text = expand(spec.id, spec.example);
            if !rules_found(&scanner, &text).iter().any(|r| r == spec.id) {
                missed.push(spec.id);
            }
        }
        assert!(missed.is_empty(), "examples not found: {missed:?}");
    }

    #[test]
    fn no_counter_example_is_found_by_its_detector() {
        let scanner = scanner();
        let mut wrong = Vec::new();
        for spec in DETECTORS {
            let text = expand(spec.id, spec.counter);
            if rules_found(&scanner, &text).iter().any(|r| r == spec.id) {
                wrong.push(spec.id);
            }
        }
        assert!(wrong.is_empty(), "counter-examples found: {wrong:?}");
    }

    #[test]
    fn previews_of_examples_never_hold_more_than_four_characters() {
        let scanner = scanner();
        for spec in DETECTORS {
            let text = expand(spec.id, spec.example);
            for finding in scanner.scan("fixture.txt", text.as_bytes()) {
                if let Some(preview) = finding.preview {
                    assert!(preview.prefix.chars().count() <= 4, "{}", spec.id);
                }
            }
        }
    }
}
