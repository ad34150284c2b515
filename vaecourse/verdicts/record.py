"""The mime type of the record a judged test cell carries (its parts and points, as JSON).

Its own module, without torch: the preprocessors that only look for the record (sanitising, hiding the
score on the feedback page) and the exports import this, and so start 1.7 s sooner in every nbgrader
run that does not judge (generate_assignment, generate_feedback) and every grading command."""
MIME = "application/vnd.vaecourse.verdict+json"
