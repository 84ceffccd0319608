"""UWS 1.1 documents: the job list, a job, its results and its parameters (pure)."""

from xml.sax.saxutils import escape, quoteattr

from qserv.meta.tap_jobs import uws_time

UWS_NS = "http://www.ivoa.net/xml/UWS/v1.0"
XLINK_NS = "http://www.w3.org/1999/xlink"
_HEADER = '<?xml version="1.0" encoding="UTF-8"?>\n'
_NAMESPACES = (f'xmlns:uws="{UWS_NS}" xmlns:xlink="{XLINK_NS}" '
               'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"')


def _time(element, moment):
    if moment is None:
        return f'<uws:{element} xsi:nil="true"/>'
    return f"<uws:{element}>{uws_time(moment)}</uws:{element}>"


def job_list_xml(jobs, job_url):
    """The job list; ``job_url(job_id)`` gives a job's absolute URL."""
    items = "".join(
        f'<uws:jobref id={quoteattr(job.id)} xlink:href={quoteattr(job_url(job.id))}>'
        f"<uws:phase>{job.phase}</uws:phase>"
        + (f"<uws:runId>{escape(job.run_id)}</uws:runId>" if job.run_id else "")
        + f"<uws:ownerId>{escape(job.owner)}</uws:ownerId>{_time('creationTime', job.creation_time)}"
        "</uws:jobref>" for job in jobs)
    return (f'{_HEADER}<uws:jobs {_NAMESPACES} version="1.1">{items}</uws:jobs>').encode()


def _parameters(job, uploads):
    items = []
    for name, value in sorted(job.parameters.items()):
        items.append(f"<uws:parameter id={quoteattr(name)}>{escape(str(value))}</uws:parameter>")
    for name in uploads:
        items.append(f'<uws:parameter id="upload" byReference="true">{escape(name)}</uws:parameter>')
    return "<uws:parameters>" + "".join(items) + "</uws:parameters>"


def _results(job, result_url):
    if job.phase != "COMPLETED" or not job.result_path:
        return "<uws:results/>"
    size = f" size={quoteattr(str(job.result_rows))}" if job.result_rows is not None else ""
    return (f'<uws:results><uws:result id="result" xlink:href={quoteattr(result_url)}'
            f' mime-type={quoteattr(job.result_mime or "")}{size}/></uws:results>')


def job_xml(job, result_url, uploads=()):
    """A job's full UWS document."""
    error = ""
    if job.phase == "ERROR":
        error = ('<uws:errorSummary type="fatal" hasDetail="true">'
                 f"<uws:message>{escape(job.error_message or '')}</uws:message></uws:errorSummary>")
    return (
        f"{_HEADER}<uws:job {_NAMESPACES} version=\"1.1\">"
        f"<uws:jobId>{escape(job.id)}</uws:jobId>"
        + (f"<uws:runId>{escape(job.run_id)}</uws:runId>" if job.run_id else "")
        + f"<uws:ownerId>{escape(job.owner)}</uws:ownerId>"
        f"<uws:phase>{job.phase}</uws:phase>"
        '<uws:quote xsi:nil="true"/>'
        f"{_time('creationTime', job.creation_time)}{_time('startTime', job.start_time)}"
        f"{_time('endTime', job.end_time)}"
        f"<uws:executionDuration>{job.execution_duration_s}</uws:executionDuration>"
        f"{_time('destruction', job.destruction_time)}"
        f"{_parameters(job, uploads)}{_results(job, result_url)}{error}</uws:job>"
    ).encode()


def results_xml(job, result_url):
    return (f"{_HEADER}{_results(job, result_url).replace('<uws:results', f'<uws:results {_NAMESPACES}', 1)}"
            ).encode()


def parameters_xml(job, uploads=()):
    return (f"{_HEADER}{_parameters(job, uploads).replace('<uws:parameters', f'<uws:parameters {_NAMESPACES}', 1)}"
            ).encode()
