//! An in-process S3-protocol server for tests: s3s (SigV4 checked) over
//! s3s-fs (objects in a temporary directory), on 127.0.0.1 with an ephemeral
//! port. `cargo test` needs no external process.
//!
//! s3s-fs lacks ListMultipartUploads, which the store's cleanup path uses;
//! [`TestS3`] forwards everything to s3s-fs and keeps the list of open
//! multipart uploads itself.

use std::net::SocketAddr;
use std::path::Path;

use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder as ConnBuilder;
use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::SystemTime;

use s3s::auth::SimpleAuth;
use s3s::dto::{
    AbortMultipartUploadInput, AbortMultipartUploadOutput, CompleteMultipartUploadInput,
    CompleteMultipartUploadOutput, CreateMultipartUploadInput, CreateMultipartUploadOutput,
    DeleteObjectInput, DeleteObjectOutput, GetObjectInput, GetObjectOutput, HeadBucketInput,
    HeadBucketOutput, HeadObjectInput, HeadObjectOutput, ListMultipartUploadsInput,
    ListMultipartUploadsOutput, ListObjectsV2Input, ListObjectsV2Output, MultipartUpload,
    PutObjectInput, PutObjectOutput, UploadPartInput, UploadPartOutput,
};
use s3s::service::S3ServiceBuilder;
use s3s::{S3, S3Request, S3Response, S3Result};
use tokio::sync::oneshot;

use crate::{S3Config, S3Credentials};

/// The server's access key.
pub const ACCESS_KEY: &str = "coffre-test-access";
/// The server's secret key.
pub const SECRET_KEY: &str = "coffre-test-secret-0123456789";
/// The bucket it serves.
pub const BUCKET: &str = "coffre-test";
/// Its region.
pub const REGION: &str = "us-east-1";

/// A running server. Stops when dropped.
#[derive(Debug)]
pub struct S3TestServer {
    addr: SocketAddr,
    dir: tempfile::TempDir,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl S3TestServer {
    /// Starts a server with one bucket, [`BUCKET`], on its own thread and
    /// runtime, so it keeps serving whatever the caller's runtime does.
    pub fn start() -> std::io::Result<Self> {
        let dir = tempfile::tempdir()?;
        std::fs::create_dir(dir.path().join(BUCKET))?;
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let root = dir.path().to_path_buf();
        let (stop, stopped) = oneshot::channel();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("s3-test-server".into())
            .spawn(move || {
                let rt = match tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt,
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                        return;
                    }
                };
                rt.block_on(serve(listener, &root, stopped, ready_tx));
            })?;
        ready_rx.recv().map_err(std::io::Error::other)??;
        Ok(Self {
            addr,
            dir,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    /// Its address, `http://127.0.0.1:<port>`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Where the server keeps the bucket's objects on disk.
    pub fn data_dir(&self) -> &Path {
        self.dir.path()
    }

    /// A store configuration pointing at this server.
    pub fn config(&self) -> S3Config {
        let mut c = S3Config::new(Some(self.endpoint()), REGION, BUCKET);
        c.credentials = Some(S3Credentials {
            access_key_id: ACCESS_KEY.into(),
            secret_access_key: SECRET_KEY.into(),
        });
        c.part_size = crate::s3::MIN_PART_SIZE;
        c.max_attempts = 2;
        c
    }
}

impl Drop for S3TestServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

async fn serve(
    listener: std::net::TcpListener,
    root: &Path,
    mut stopped: oneshot::Receiver<()>,
    ready: std::sync::mpsc::Sender<std::io::Result<()>>,
) {
    let setup = (|| {
        let fs =
            s3s_fs::FileSystem::new(root).map_err(|e| std::io::Error::other(format!("{e:?}")))?;
        let mut b = S3ServiceBuilder::new(TestS3 {
            fs,
            uploads: Mutex::default(),
        });
        b.set_auth(SimpleAuth::from_single(ACCESS_KEY, SECRET_KEY));
        let listener = tokio::net::TcpListener::from_std(listener)?;
        Ok::<_, std::io::Error>((b.build(), listener))
    })();
    let (service, listener) = match setup {
        Ok(v) => {
            let _ = ready.send(Ok(()));
            v
        }
        Err(e) => {
            let _ = ready.send(Err(e));
            return;
        }
    };
    let http = ConnBuilder::new(TokioExecutor::new());
    loop {
        let socket = tokio::select! {
            res = listener.accept() => match res {
                Ok((socket, _)) => socket,
                Err(_) => continue,
            },
            _ = &mut stopped => return,
        };
        // Without it, small requests stall ~40 ms on delayed ACKs.
        let _ = socket.set_nodelay(true);
        let conn = http
            .serve_connection(TokioIo::new(socket), service.clone())
            .into_owned();
        tokio::spawn(async move {
            let _ = conn.await;
        });
    }
}

/// (bucket, key, upload id) → when it started.
type Uploads = Mutex<BTreeMap<(String, String, String), SystemTime>>;

/// s3s-fs plus ListMultipartUploads.
struct TestS3 {
    fs: s3s_fs::FileSystem,
    uploads: Uploads,
}

fn uploads(
    u: &Uploads,
) -> std::sync::MutexGuard<'_, BTreeMap<(String, String, String), SystemTime>> {
    u.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[async_trait::async_trait]
impl S3 for TestS3 {
    async fn put_object(
        &self,
        req: S3Request<PutObjectInput>,
    ) -> S3Result<S3Response<PutObjectOutput>> {
        self.fs.put_object(req).await
    }
    async fn get_object(
        &self,
        req: S3Request<GetObjectInput>,
    ) -> S3Result<S3Response<GetObjectOutput>> {
        self.fs.get_object(req).await
    }
    async fn head_object(
        &self,
        req: S3Request<HeadObjectInput>,
    ) -> S3Result<S3Response<HeadObjectOutput>> {
        self.fs.head_object(req).await
    }
    async fn head_bucket(
        &self,
        req: S3Request<HeadBucketInput>,
    ) -> S3Result<S3Response<HeadBucketOutput>> {
        self.fs.head_bucket(req).await
    }
    async fn delete_object(
        &self,
        req: S3Request<DeleteObjectInput>,
    ) -> S3Result<S3Response<DeleteObjectOutput>> {
        self.fs.delete_object(req).await
    }
    async fn list_objects_v2(
        &self,
        req: S3Request<ListObjectsV2Input>,
    ) -> S3Result<S3Response<ListObjectsV2Output>> {
        self.fs.list_objects_v2(req).await
    }
    async fn upload_part(
        &self,
        req: S3Request<UploadPartInput>,
    ) -> S3Result<S3Response<UploadPartOutput>> {
        self.fs.upload_part(req).await
    }
    async fn create_multipart_upload(
        &self,
        req: S3Request<CreateMultipartUploadInput>,
    ) -> S3Result<S3Response<CreateMultipartUploadOutput>> {
        let (bucket, key) = (req.input.bucket.clone(), req.input.key.clone());
        let resp = self.fs.create_multipart_upload(req).await?;
        if let Some(id) = &resp.output.upload_id {
            uploads(&self.uploads).insert((bucket, key, id.clone()), SystemTime::now());
        }
        Ok(resp)
    }
    async fn complete_multipart_upload(
        &self,
        req: S3Request<CompleteMultipartUploadInput>,
    ) -> S3Result<S3Response<CompleteMultipartUploadOutput>> {
        let id = (
            req.input.bucket.clone(),
            req.input.key.clone(),
            req.input.upload_id.clone(),
        );
        let resp = self.fs.complete_multipart_upload(req).await?;
        uploads(&self.uploads).remove(&id);
        Ok(resp)
    }
    async fn abort_multipart_upload(
        &self,
        req: S3Request<AbortMultipartUploadInput>,
    ) -> S3Result<S3Response<AbortMultipartUploadOutput>> {
        let id = (
            req.input.bucket.clone(),
            req.input.key.clone(),
            req.input.upload_id.clone(),
        );
        let resp = self.fs.abort_multipart_upload(req).await?;
        uploads(&self.uploads).remove(&id);
        Ok(resp)
    }
    async fn list_multipart_uploads(
        &self,
        req: S3Request<ListMultipartUploadsInput>,
    ) -> S3Result<S3Response<ListMultipartUploadsOutput>> {
        let bucket = req.input.bucket.clone();
        let prefix = req.input.prefix.clone().unwrap_or_default();
        let list: Vec<MultipartUpload> = uploads(&self.uploads)
            .iter()
            .filter(|((b, k, _), _)| *b == bucket && k.starts_with(&prefix))
            .map(|((_, k, id), started)| MultipartUpload {
                key: Some(k.clone()),
                upload_id: Some(id.clone()),
                initiated: Some((*started).into()),
                ..MultipartUpload::default()
            })
            .collect();
        Ok(S3Response::new(ListMultipartUploadsOutput {
            bucket: Some(bucket),
            uploads: Some(list),
            is_truncated: Some(false),
            ..ListMultipartUploadsOutput::default()
        }))
    }
}
